"""How usernames compare: two names are the same account when they match after NFKC
normalization and case folding (`ADMIN1`, `admin1` and a fullwidth `ａｄｍｉｎ１` are one name)."""
import unicodedata


def username_key(username: str) -> str:
    """The form a username is unique and looked up in."""
    return unicodedata.normalize("NFKC", username).casefold()
