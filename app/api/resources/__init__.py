"""The API's resources, one module per kind of thing; `app/api/routes.py` gives them their URLs."""
