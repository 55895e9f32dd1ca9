"""The incident domain: rules, use cases and notifications, with no HTTP in sight."""
