"""The list's bulk bar: one action on the selected incidents (app.incidents.bulk). Filled in by the bulk work."""
