"""Tier 1 delivery settings: the kit's own CI/CD pipeline and its environments.

Everything lives under ``delivery:`` in ``kit.yaml``. Off by default: the shipped file
synthesizes the platform straight into the App, environment-agnostic, as before.

```yaml
delivery:
  enabled: true
  tooling: {account: "111111111111", region: eu-west-1}     # where the pipeline runs
  source:
    kind: codeconnections                                    # or: s3 (closed networks)
    connection_arn: arn:aws:codeconnections:eu-west-1:111111111111:connection/1b2c3d4e-...
    repository: my-org/sagemaker-mlops-kit
    branch: main
  notification_email: devops@example.com
  environments:                                              # deployed in this order
    - {name: dev, account: "222222222222", region: eu-west-1}
    - {name: staging, account: "333333333333", region: eu-west-1}
    - {name: production, account: "444444444444", region: eu-west-1}
```
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from mlops_kit.config.common import AccountId, Region, Section
from mlops_kit.config.validation import FieldProblem

EnvironmentKind = Literal["development", "staging", "production"]
KIND_ORDER: dict[str, int] = {"development": 0, "staging": 1, "production": 2}

CONNECTION_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _connection_arn(value: str) -> str:
    if not CONNECTION_ARN.match(value):
        raise ValueError(
            "not an AWS CodeConnections connection ARN; allowed: "
            "arn:aws:codeconnections:<region>:<12-digit account>:connection/<uuid> "
            "(the older codestar-connections prefix works too); copy it from the console's Connections page"
        )
    return value


def _repository(value: str) -> str:
    if not REPOSITORY.match(value):
        raise ValueError("allowed: <owner>/<repository> as the provider shows it, e.g. my-org/sagemaker-mlops-kit")
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,18}[a-z0-9]", value) or "--" in value:
        raise ValueError(
            "allowed: 2 to 20 characters, lowercase letters, digits and single hyphens, starting with a letter "
            "(it names the pipeline stage and its stacks)"
        )
    return value


def _email(value: str) -> str:
    if not EMAIL.match(value):
        raise ValueError("not an email address; allowed: e.g. devops@example.com")
    return value


def _bucket(value: str) -> str:
    if not BUCKET_NAME.match(value):
        raise ValueError("not an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens")
    return value


ConnectionArn = Annotated[str, AfterValidator(_connection_arn)]
Repository = Annotated[str, AfterValidator(_repository)]
EnvironmentName = Annotated[str, AfterValidator(_env_name)]
Email = Annotated[str, AfterValidator(_email)]
BucketName = Annotated[str, AfterValidator(_bucket)]


def kind_from_name(name: str) -> EnvironmentKind:
    """``prod*`` is production, ``stag*``/``preprod*`` staging, anything else development."""
    if name.startswith("prod"):
        return "production"
    if name.startswith(("stag", "preprod")):
        return "staging"
    return "development"


class ToolingAccount(Section):
    """The account and region that hold the delivery pipeline (often a dedicated one)."""

    account: AccountId
    region: Region


class DeliveryEnvironment(Section):
    """One deployment of the platform; the pipeline deploys them in list order."""

    name: EnvironmentName
    account: AccountId
    region: Region
    kind: EnvironmentKind | None = Field(
        default=None,
        description="development, staging or production; left out, it follows the name (prod*, stag*/preprod*, else development).",
    )

    @property
    def effective_kind(self) -> EnvironmentKind:
        return self.kind or kind_from_name(self.name)

    @property
    def is_production(self) -> bool:
        return self.effective_kind == "production"

    @property
    def protected(self) -> bool:
        """Staging and production stacks carry termination protection."""
        return self.effective_kind != "development"


class SourceConfig(Section):
    """Where the kit's repository comes from.

    ``codeconnections``: GitHub, GitLab or Bitbucket through an AWS CodeConnections
    connection (``connection_arn``, ``repository``, ``branch``).
    ``s3``: a zip of the repository uploaded to S3, for networks without a Git provider
    (``key``; ``bucket`` optional: without it the Delivery stack creates a versioned,
    encrypted source bucket and prints its name; a bucket you name must be versioned and
    live in the tooling account).
    """

    kind: Literal["codeconnections", "s3"]
    connection_arn: ConnectionArn | None = None
    repository: Repository | None = None
    branch: str = Field(default="main", min_length=1, max_length=255, pattern=r"^[^\s~^:?*\[\\]+$")
    bucket: BucketName | None = None
    key: str | None = Field(default=None, min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        if self.kind == "codeconnections":
            for name in ("connection_arn", "repository"):
                if getattr(self, name) is None:
                    raise FieldProblem((name,), "required when source.kind is codeconnections")
            for name in ("bucket", "key"):
                if getattr(self, name) is not None:
                    raise FieldProblem((name,), "only for source.kind s3; remove it, or set kind: s3")
        else:
            for name in ("connection_arn", "repository"):
                if getattr(self, name) is not None:
                    raise FieldProblem((name,), "only for source.kind codeconnections; remove it, or set kind: codeconnections")
        return self

    @property
    def object_key(self) -> str:
        """The S3 object key of the repository zip."""
        return self.key or "sagemaker-mlops-kit.zip"


class DeliveryConfig(Section):
    """The self-mutating pipeline that deploys the platform; off by default."""

    enabled: bool = False
    tooling: ToolingAccount | None = None
    source: SourceConfig | None = None
    environments: list[DeliveryEnvironment] = Field(default_factory=list)
    notification_email: Email | None = Field(default=None, description="Who hears about failed pipeline runs.")
    config_file: str = Field(
        default="kit.yaml",
        pattern=r"^[\w./-]+\.ya?ml$",
        description="The kit.yaml the pipeline synthesizes, relative to the repository root.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.enabled:
            return self
        for name in ("tooling", "source"):
            if getattr(self, name) is None:
                raise FieldProblem((name,), "required when delivery.enabled is true")
        if not self.environments:
            raise FieldProblem(("environments",), "list at least one environment (name, account, region) when delivery.enabled is true")
        names: dict[str, int] = {}
        places: dict[tuple[str, str], int] = {}
        for index, env in enumerate(self.environments):
            if env.name in names:
                raise FieldProblem(
                    ("environments", index, "name"),
                    f"'{env.name}' is already the name of environments[{names[env.name]}]; give each environment its own name",
                )
            names[env.name] = index
            place = (env.account, env.region)
            if place in places:
                raise FieldProblem(
                    ("environments", index, "account"),
                    f"account {env.account} in {env.region} is already environments[{places[place]}]; "
                    "each environment needs its own account or region",
                )
            places[place] = index
        highest = 0
        for index, env in enumerate(self.environments):
            rank = KIND_ORDER[env.effective_kind]
            if rank < highest:
                before = next(e for e in self.environments[:index] if KIND_ORDER[e.effective_kind] == highest)
                raise FieldProblem(
                    ("environments", index, "name"),
                    f"'{env.name}' ({env.effective_kind}) comes after '{before.name}' ({before.effective_kind}); "
                    "order the list development, then staging, then production",
                )
            highest = rank
        return self

    # Helpers for other tiers: which accounts take part, without reading the list themselves.

    def accounts(self) -> list[str]:
        """Every environment account, in pipeline order, each once (empty when delivery is off)."""
        if not self.enabled:
            return []
        return list(dict.fromkeys(env.account for env in self.environments))

    @property
    def training_environment(self) -> DeliveryEnvironment | None:
        """The first environment: where models are trained and registered."""
        return self.environments[0] if self.enabled and self.environments else None

    def deployment_accounts(self) -> list[str]:
        """Accounts after the training one, which read the registry and artifacts (staging, production)."""
        training = self.training_environment
        return [account for account in self.accounts() if training is None or account != training.account]

    def environment(self, name: str) -> DeliveryEnvironment:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(f"no delivery environment named {name!r}; configured: {', '.join(e.name for e in self.environments)}")
