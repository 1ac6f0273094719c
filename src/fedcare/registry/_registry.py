"""The model registry: SQLite by default, PostgreSQL by URL, schema managed by Alembic."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from fedcare.exceptions import ConfigError, DataNotFoundError
from fedcare.registry._provenance import (
    VERTICAL_KINDS,
    model_from_run,
    vertical_model_from_result,
)
from fedcare.registry._tables import (
    ApiKeyRow,
    AssessmentRow,
    ModelRow,
    PredictionLogRow,
    SecretRow,
    SessionRow,
    UserRow,
)

__all__ = [
    "CONSOLE_ROLES",
    "ROLES",
    "ApiKey",
    "ModelRecord",
    "Registry",
    "User",
    "database_url",
    "downgrade",
    "upgrade",
]

Role = Literal["admin", "clinician", "read-only"]
#: What each role may do (a role includes the ones after it).
ROLES: tuple[Role, ...] = ("admin", "clinician", "read-only")
DEFAULT_URL = "sqlite:///fedcare.db"
#: Console account roles and what each may do.
CONSOLE_ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "studies", "models.manage", "assess", "approve", "users",
                        "audit"}),
    "study-lead": frozenset({"read", "studies", "audit"}),
    "site-steward": frozenset({"read", "approve", "audit"}),
    "clinician": frozenset({"read", "assess"}),
    "read-only": frozenset({"read"}),
}
MIN_PASSWORD = 12
SESSION_HOURS = 8
_KEY_PREFIX = "fck_"


def database_url(url: str | None = None) -> str:
    """``url``, else ``$FEDCARE_DATABASE_URL``, else ``sqlite:///fedcare.db`` (this folder)."""
    return url or os.environ.get("FEDCARE_DATABASE_URL") or DEFAULT_URL


def _describe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is reported by the caller
        return "<unparseable URL>"


def _engine(url: str) -> Engine:
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"database URL {_describe(url)} is not usable: "
                          f"{type(exc).__name__} (expected e.g. sqlite:///fedcare.db or "
                          "postgresql+psycopg://user@host/db)") from None
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    return engine


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the registry's database to ``revision`` with Alembic (creates it if new)."""
    engine = _engine(database_url(url))
    _upgrade(engine, revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate the registry's database back to ``revision`` (``base`` drops every table)."""
    _upgrade(_engine(database_url(url)), revision, down=True)


def _upgrade(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(cfg, revision)
    except OperationalError as exc:
        raise ConfigError(f"cannot open the model registry at {_describe(str(engine.url))}: "
                          f"{exc.orig.__class__.__name__ if exc.orig else 'error'} (check "
                          "the path or server and FEDCARE_DATABASE_URL)") from None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite drops the time zone; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


IMAGE_KINDS = frozenset({"cnn"})
"""Registered model kinds that read images."""


@dataclass(frozen=True)
class ModelRecord:
    """A registered model, detached from the database."""

    id: int
    name: str
    created_at: datetime
    content_hash: str
    kind: str
    status: str
    intended_use: str
    hyperparameters: dict[str, Any]
    arrays: list[Any]
    standardiser: dict[str, Any]
    schema: dict[str, Any]
    provenance: dict[str, Any]
    metrics: dict[str, Any]
    limitations: list[str]

    @classmethod
    def _from_row(cls, row: ModelRow) -> ModelRecord:
        return cls(id=row.id, name=row.name, created_at=_aware(row.created_at),
                   content_hash=row.content_hash, kind=row.kind, status=row.status,
                   intended_use=row.intended_use, hyperparameters=row.hyperparameters,
                   arrays=row.arrays, standardiser=row.standardiser, schema=row.feature_schema,
                   provenance=row.provenance, metrics=row.metrics,
                   limitations=list(row.limitations))

    @property
    def servable(self) -> bool:
        """Whether this registry can predict with it (a vertical model's parameters are
        split between its parties: it cannot)."""
        return self.kind not in VERTICAL_KINDS

    @property
    def is_image(self) -> bool:
        """Whether it reads images (a DICOM slice in; ``/predict/dicom`` serves it)."""
        return self.kind in IMAGE_KINDS

    def summary(self) -> dict[str, Any]:
        """What ``model list`` and ``GET /v1/models`` show (no parameters)."""
        fed = self.metrics.get("federated", {})
        return {
            "id": self.id, "name": self.name, "status": self.status, "kind": self.kind,
            "created_at": self.created_at.isoformat(), "content_hash": self.content_hash,
            "strategy": self.provenance.get("strategy"),
            "sites": sorted(self.provenance.get("sites", {})),
            "mean_client_accuracy": fed.get("mean_client_accuracy"),
            "pooled_test_auc": (fed.get("pooled_test") or {}).get("auc"),
            "epsilon": (self.provenance.get("privacy") or {}).get("epsilon_max"),
        }

    def to_dict(self, *, parameters: bool = True) -> dict[str, Any]:
        """Everything the registry holds (parameters optional)."""
        out = self.summary()
        out.update(intended_use=self.intended_use, hyperparameters=self.hyperparameters,
                   schema=self.schema, provenance=self.provenance, metrics=self.metrics,
                   limitations=self.limitations)
        if parameters:
            out.update(arrays=self.arrays, standardiser=self.standardiser)
        return out


@dataclass(frozen=True)
class ApiKey:
    """An API key's public facts (the secret itself is shown once, at creation)."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    def allows(self, needed: Role) -> bool:
        """Whether this key's role includes ``needed`` (admin > clinician > read-only)."""
        return ROLES.index(self.role) <= ROLES.index(needed)

    @classmethod
    def _from_row(cls, row: ApiKeyRow) -> ApiKey:
        return cls(id=row.id, name=row.name, role=cast(Role, row.role), prefix=row.prefix,
                   created_at=_aware(row.created_at),
                   revoked_at=_aware(row.revoked_at) if row.revoked_at else None)


@dataclass(frozen=True)
class User:
    """A console account (never its password hash)."""

    id: int
    name: str
    role: str
    site: str | None
    created_at: datetime
    disabled: bool

    def can(self, action: str) -> bool:
        """Whether the account's role allows ``action`` (see :data:`CONSOLE_ROLES`)."""
        return not self.disabled and action in CONSOLE_ROLES.get(self.role, frozenset())

    @classmethod
    def _from_row(cls, row: UserRow) -> User:
        return cls(row.id, row.name, row.role, row.site, _aware(row.created_at),
                   bool(row.disabled))


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


def hash_key(secret: str) -> str:
    """SHA-256 of a key (keys are 256-bit random tokens, so a fast hash suffices)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def content_hash(model: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of what determines predictions."""
    canonical = {k: model[k] for k in ("kind", "hyperparameters", "arrays", "standardiser",
                                       "schema")}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=float)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _DummyHash:
    """A real argon2 hash of a random password, so an unknown user name costs one verify."""

    _value: str | None = None

    def get(self, hasher: Any) -> str:
        if self._value is None:
            self._value = hasher.hash(secrets.token_urlsafe(16))
        return self._value


_DUMMY_HASH = _DummyHash()


class Registry:
    """Registered models, API keys and the prediction log in one database.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default ``$FEDCARE_DATABASE_URL`` or ``sqlite:///fedcare.db``.
    migrate : bool, default=True
        Run Alembic's ``upgrade head`` on open (creates a new database's tables).
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = database_url(url)
        self.engine = _engine(self.url)
        if migrate:
            _upgrade(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._person_secret: bytes | None = None

    def _open(self) -> Session:
        return self._session()

    @property
    def description(self) -> str:
        """The database URL without password."""
        return _describe(self.url)

    # -- models ------------------------------------------------------------------------
    def register(self, run_dir: str | Path, *, name: str | None = None,
                 intended_use: str | None = None) -> tuple[ModelRecord, bool]:
        """Register the global model of a finished study run folder.

        Returns the record and whether it is new (the same content registered twice
        returns the first record).
        """
        return self._add(model_from_run(Path(run_dir)), name, intended_use)

    def register_vertical(self, result: str | Path, *, name: str | None = None,
                          intended_use: str | None = None) -> tuple[ModelRecord, bool]:
        """Register a vertical model's card from its ``fedcare vertical train --json``
        file (its parameters stay with its parties; the record holds none)."""
        return self._add(vertical_model_from_result(Path(result)), name, intended_use)

    def _add(self, model: dict[str, Any], name: str | None,
             intended_use: str | None) -> tuple[ModelRecord, bool]:
        digest = content_hash(model)
        with self._open() as session:
            existing = session.scalar(select(ModelRow).where(ModelRow.content_hash == digest))
            if existing is not None:
                return ModelRecord._from_row(existing), False
            row = ModelRow(
                name=name or model["name"], created_at=_now(), content_hash=digest,
                kind=model["kind"], status="active",
                intended_use=intended_use or model["intended_use"],
                hyperparameters=model["hyperparameters"], arrays=model["arrays"],
                standardiser=model["standardiser"], feature_schema=model["schema"],
                provenance=model["provenance"], metrics=model["metrics"],
                limitations=model["limitations"],
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # registered concurrently by someone else
                session.rollback()
                again = session.scalar(select(ModelRow).where(ModelRow.content_hash == digest))
                if again is None:
                    raise
                return ModelRecord._from_row(again), False
            return ModelRecord._from_row(row), True

    def models(self) -> list[ModelRecord]:
        """Every registered model, oldest first."""
        with self._open() as session:
            return [ModelRecord._from_row(r)
                    for r in session.scalars(select(ModelRow).order_by(ModelRow.id))]

    def count_models(self) -> int:
        """How many models are registered."""
        from sqlalchemy import func

        with self._open() as session:
            return int(session.scalar(select(func.count()).select_from(ModelRow)) or 0)

    def model(self, model_id: int) -> ModelRecord:
        """The model with ``model_id``; :class:`DataNotFoundError` if there is none."""
        with self._open() as session:
            row = session.get(ModelRow, model_id)
            if row is None:
                raise DataNotFoundError(f"no model with id {model_id} in the registry "
                                        f"{self.description}")
            return ModelRecord._from_row(row)

    def set_status(self, model_id: int, status: Literal["active", "retired"]) -> ModelRecord:
        """Retire a model (it stays listed, predictions are refused) or re-activate it."""
        if status not in {"active", "retired"}:
            raise ConfigError(f"status must be 'active' or 'retired', got '{status}'")
        with self._open() as session:
            row = session.get(ModelRow, model_id)
            if row is None:
                raise DataNotFoundError(f"no model with id {model_id}")
            row.status = status
            session.commit()
            return ModelRecord._from_row(row)

    # -- API keys ----------------------------------------------------------------------
    def create_api_key(self, name: str, role: str) -> tuple[ApiKey, str]:
        """A new key; returns its record and the secret (shown once, stored hashed)."""
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}; got '{role}'")
        if not name.strip():
            raise ConfigError("an API key needs a name (who or what uses it)")
        secret = _KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKeyRow(name=name.strip(), role=role, prefix=secret[:10],
                        key_hash=hash_key(secret), created_at=_now(), revoked_at=None)
        with self._open() as session:
            session.add(row)
            session.commit()
            return ApiKey._from_row(row), secret

    def api_keys(self) -> list[ApiKey]:
        """Every key (revoked ones too), oldest first."""
        with self._open() as session:
            return [ApiKey._from_row(r)
                    for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]

    def revoke_api_key(self, key_id: int) -> ApiKey:
        """Revoke a key; requests with it are refused from then on."""
        with self._open() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise DataNotFoundError(f"no API key with id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = _now()
                session.commit()
            return ApiKey._from_row(row)

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key matching ``secret``, or None."""
        if not secret.startswith(_KEY_PREFIX):
            return None
        with self._open() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(secret)))
            if row is None or row.revoked_at is not None:
                return None
            return ApiKey._from_row(row)

    # -- prediction log ----------------------------------------------------------------
    def log_requests(self, entries: list[dict[str, Any]]) -> None:
        """Append prediction-log entries (who, when, model, endpoint, rows, input hash)."""
        if not entries:
            return
        from sqlalchemy import insert

        with self.engine.begin() as connection:  # one executemany, no ORM objects
            connection.execute(insert(PredictionLogRow), entries)

    def prediction_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` log entries, newest first."""
        with self._open() as session:
            rows = session.scalars(select(PredictionLogRow).order_by(
                PredictionLogRow.id.desc()).limit(limit))
            return [{"id": r.id, "at": _aware(r.at).isoformat(), "api_key_id": r.api_key_id,
                     "model_id": r.model_id, "endpoint": r.endpoint, "n_rows": r.n_rows,
                     "input_hash": r.input_hash, "status_code": r.status_code} for r in rows]

    # -- assessments (the health-management assistant) ---------------------------------
    def person_key(self, person_id: str) -> str:
        """The stored pseudonym of a person ID: HMAC-SHA256 keyed by this registry's secret."""
        import hmac

        if self._person_secret is None:
            with self._open() as session:
                row = session.get(SecretRow, "person_key")
                if row is None:  # written by migration 0002; never regenerated silently
                    raise ConfigError(f"the registry {self.description} lacks its person "
                                      "key; run its migrations (fedcare registry upgrade)")
                self._person_secret = bytes.fromhex(row.value)
        return hmac.new(self._person_secret, person_id.encode("utf-8"),
                        hashlib.sha256).hexdigest()

    def secret(self, name: str) -> bytes:
        """A secret the registry drew for itself at migration (``person_key``,
        ``console_key``)."""
        with self._open() as session:
            row = session.get(SecretRow, name)
            if row is None:
                raise ConfigError(f"the registry {self.description} lacks its '{name}' "
                                  "secret; run its migrations")
            return bytes.fromhex(row.value)

    def add_assessment(self, person_id: str, result: dict[str, Any], *,
                       api_key_id: int | None = None) -> int:
        """Store one assessment of a person (by pseudonym); returns its id."""
        row = AssessmentRow(person_key=self.person_key(person_id), at=_now(),
                            assessed_on=str(result.get("assessed_on")), api_key_id=api_key_id,
                            tier=str((result.get("tier") or {}).get("level")), result=result)
        with self._open() as session:
            session.add(row)
            session.commit()
            return int(row.id)

    def assessments(self, person_id: str) -> list[dict[str, Any]]:
        """A person's assessments, oldest first (each with ``assessment_id`` and ``at``)."""
        key = self.person_key(person_id)
        with self._open() as session:
            rows = session.scalars(select(AssessmentRow).where(
                AssessmentRow.person_key == key).order_by(AssessmentRow.assessed_on,
                                                          AssessmentRow.id))
            return [{**r.result, "assessment_id": r.id, "at": _aware(r.at).isoformat()}
                    for r in rows]

    # -- console accounts and sessions -------------------------------------------------
    def create_user(self, name: str, role: str, password: str, *,
                    site: str | None = None) -> User:
        """A console account; the password is stored as an argon2id hash only."""
        name = name.strip()
        if role not in CONSOLE_ROLES:
            raise ConfigError(f"role must be one of {', '.join(CONSOLE_ROLES)}; got "
                              f"'{role[:20]}'")
        if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
            raise ConfigError("a user name is 1-64 letters, digits, '.', '_', '-' or '@'")
        if len(password) < MIN_PASSWORD:
            raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
        if role == "site-steward" and not site:
            raise ConfigError("a site steward needs the site they speak for (--site)")
        row = UserRow(name=name, role=role, site=site, created_at=_now(), disabled=False,
                      password_hash=_hasher().hash(password))
        with self._open() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                raise ConfigError(f"a user named '{name}' exists already") from None
            return User._from_row(row)

    def users(self) -> list[User]:
        """Every console account, oldest first."""
        with self._open() as session:
            return [User._from_row(r)
                    for r in session.scalars(select(UserRow).order_by(UserRow.id))]

    def set_user_disabled(self, name: str, disabled: bool) -> User:
        """Disable (every session ends) or re-enable an account."""
        with self._open() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            if row is None:
                raise DataNotFoundError(f"no user named '{name[:64]}'")
            row.disabled = disabled
            if disabled:
                for s in session.scalars(select(SessionRow).where(
                        SessionRow.user_id == row.id, SessionRow.revoked_at.is_(None))):
                    s.revoked_at = _now()
            session.commit()
            return User._from_row(row)

    def verify_user(self, name: str, password: str) -> User | None:
        """The active account whose password matches, or None (the same work either way)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _hasher()
        with self._open() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name))
            digest = row.password_hash if row is not None else _DUMMY_HASH.get(hasher)
            try:
                hasher.verify(digest, password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None or row.disabled:
                return None
            if hasher.check_needs_rehash(row.password_hash):
                row.password_hash = hasher.hash(password)
                session.commit()
            return User._from_row(row)

    def create_session(self, user: User, *, hours: float = SESSION_HOURS) -> tuple[str, str]:
        """A new login: returns its token (for the cookie) and its CSRF token."""
        from datetime import timedelta

        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = _now()
        with self._open() as session:
            session.add(SessionRow(token_hash=hash_key(token), user_id=user.id, csrf=csrf,
                                   created_at=now, expires_at=now + timedelta(hours=hours),
                                   revoked_at=None))
            session.commit()
        return token, csrf

    def session_user(self, token: str) -> tuple[User, str] | None:
        """The account and CSRF token of a live session (not revoked, expired or
        disabled), or None."""
        with self._open() as session:
            row = session.scalar(select(SessionRow).where(
                SessionRow.token_hash == hash_key(token)))
            if row is None or row.revoked_at is not None or _aware(row.expires_at) < _now():
                return None
            user = session.get(UserRow, row.user_id)
            if user is None or user.disabled:
                return None
            return User._from_row(user), row.csrf

    def revoke_session(self, token: str) -> None:
        """Log out: the session's token is refused from now on."""
        with self._open() as session:
            row = session.scalar(select(SessionRow).where(
                SessionRow.token_hash == hash_key(token)))
            if row is not None and row.revoked_at is None:
                row.revoked_at = _now()
                session.commit()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
