"""Saving, sharing and deleting list views from the list page (app.incidents.saved_views). Filled in by the views work."""
