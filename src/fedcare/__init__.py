"""fedcare: federated clinical risk models across hospitals."""

from fedcare.exceptions import (
    ConfigError,
    DataError,
    DataNotFoundError,
    FedcareError,
    FederationError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "DataNotFoundError",
    "FedcareError",
    "FederationError",
    "__version__",
]
