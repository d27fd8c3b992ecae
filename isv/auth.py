"""Who is asking and what a role may do (Viewer, permissions), and how passwords and tokens
are hashed: the bottom of the sign-in story, importing no service.

streamlit-authenticator draws the login form and keeps the cookie, but it counts failures per
browser session and cannot revoke a cookie; what must hold across sessions and replicas
(throttling, server-side sessions, tickets) is in isv.services.sessions, in the database.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bcrypt

from isv.config import get_settings
from isv.errors import Forbidden
from isv.vocabulary import ROLES

if TYPE_CHECKING:
    from isv.models import User

LOGIN_REFUSED = (
    "Login failed: wrong email or password, or too many attempts. "
    "After 5 failures the account is locked for 15 minutes."
)

# Permissions (DESIGN.md, roles and scope). The CLI acts as `system`, which may do anything.
READ_ALL = "read_all"
WRITE_PARTNERS = "write_partners"
WRITE_OPPORTUNITIES = "write_opportunities"
OWN_WORK = "own_work"
TEAM_READ = "team_read"
TEAM_WRITE = "team_write"
MANAGE_USERS = "manage_users"
# Accept or reject a tier suggestion, set a partner's tier: the program's leads, not the
# partnership manager whose partner it is.
DECIDE_TIERS = "decide_tiers"

_PERMISSIONS: dict[str, frozenset[str]] = {
    "vp": frozenset(
        {READ_ALL, WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK, TEAM_READ, TEAM_WRITE,
         MANAGE_USERS, DECIDE_TIERS}
    ),
    "sales_manager": frozenset({READ_ALL, WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK,
                                TEAM_READ, DECIDE_TIERS}),
    # A partnership manager writes partners and deals too, but only inside their scope.
    "partnership_manager": frozenset({WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK}),
    "admin": frozenset({READ_ALL, TEAM_READ, MANAGE_USERS}),
    "system": frozenset(
        {READ_ALL, WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK, TEAM_READ, TEAM_WRITE,
         MANAGE_USERS, DECIDE_TIERS}
    ),
}


@dataclass(frozen=True)
class Viewer:
    """Who is asking: every service call carries one."""

    id: uuid.UUID | None
    email: str
    role: str
    name: str = ""

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(id=user.id, email=user.email, role=user.role, name=user.full_name)

    @classmethod
    def system(cls, label: str = "cli") -> Viewer:
        return cls(id=None, email=label, role="system", name=label)

    def can(self, permission: str) -> bool:
        return permission in _PERMISSIONS.get(self.role, frozenset())

    @property
    def sees_everything(self) -> bool:
        return self.can(READ_ALL)


# Whose accounts a viewer may create, change, reset and deactivate, and so which roles it may
# grant. The usual rule, "only roles whose permissions are a subset of yours", would leave an
# admin granting only admin; DESIGN.md makes admin the one who onboards staff, so an admin
# manages admins, sales and partnership managers. Never a vp: a vp account would give an admin
# deal and team writes and user management above its own. The CLI (system) manages anyone.
_MANAGES: dict[str, tuple[str, ...]] = {
    "vp": ROLES,
    "admin": ("sales_manager", "partnership_manager", "admin"),
    "system": ROLES,
}


def manageable_roles(viewer: Viewer) -> tuple[str, ...]:
    """The roles `viewer` may grant, in ROLES order; empty without user management."""
    if not viewer.can(MANAGE_USERS):
        return ()
    return tuple(role for role in ROLES if role in _MANAGES.get(viewer.role, ()))


def may_manage(viewer: Viewer, role: str) -> bool:
    return role in manageable_roles(viewer)


def require(viewer: Viewer, permission: str, what: str) -> None:
    """Raise Forbidden unless the viewer's role grants `permission`."""
    if not viewer.can(permission):
        raise Forbidden(f"Your role ({viewer.role}) may not {what}.")


# --- passwords -------------------------------------------------------------------------

def hash_password(password: str) -> str:
    rounds = get_settings().bcrypt_rounds
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        return False
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def hash_cost(password_hash: str | None) -> int | None:
    """The bcrypt cost a stored hash was made with ("$2b$12$..." is 12), None if unreadable."""
    parts = (password_hash or "").split("$")
    if len(parts) < 4 or not parts[2].isdigit():
        return None
    return int(parts[2])


# --- tokens: what a cookie, a ticket or an API token holds, and what is stored ----------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random secret (256 bits, URL-safe): a session's cookie value or a login ticket."""
    return secrets.token_urlsafe(32)
