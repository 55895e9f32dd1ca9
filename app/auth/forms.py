"""Login, second-factor and password-reset forms."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth.two_factor import CODE_MAX


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me logged in")
    submit = SubmitField("Log in")


class CodeForm(FlaskForm):
    """A code from an authenticator app, or a recovery code where one is taken (the page says which)."""

    code = StringField("Code", validators=[DataRequired(), Length(max=CODE_MAX)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"})


class ForgotForm(FlaskForm):
    """Ask for a password reset link."""

    login = StringField("Username or e-mail address", validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "autofocus": True})
    submit = SubmitField("Send me a link")


class ResetForm(FlaskForm):
    """Choose a new password through a reset link."""

    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=256)],
                                 render_kw={"autocomplete": "new-password", "autofocus": True})
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Set the new password")
