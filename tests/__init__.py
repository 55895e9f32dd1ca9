"""The test suite. It never reads a developer's `.env`: pytest imports this package before any
conftest, so config.py (python-dotenv) and the `flask` command (its own loader) find these set and
skip the file, here and in every process a test starts with this environment. Tests set what
they need themselves."""
import os

os.environ["PYTHON_DOTENV_DISABLED"] = "1"
os.environ["FLASK_SKIP_DOTENV"] = "1"
