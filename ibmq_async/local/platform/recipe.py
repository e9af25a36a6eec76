"""How a client of the platform API connects to the local service: the recipe printed at
start (``ibmq-async serve``) and shown in the README."""

from __future__ import annotations

__all__ = ["connection_recipe", "platform_environment"]


def platform_environment(root: str) -> dict[str, str]:
    """The environment that points qiskit-ibm-runtime's IBM Cloud calls at the service."""
    return {
        "IAM_URL": root,
        "GLOBAL_SEARCH_URL": f"{root}/global-search",
        "GLOBAL_CATALOG_URL": f"{root}/global-catalog/api/v1",
    }


def connection_recipe(root: str, api_key: str, instance: str) -> list[str]:
    """The lines that tell how qiskit-ibm-runtime connects to the service at ``root``.

    Args:
        root: The service's root URL (``http://127.0.0.1:8080``).
        api_key: The API key to show (or a placeholder).
        instance: The instance CRN to show (or a placeholder).
    """
    environment = " ".join(f"{key}={value}" for key, value in platform_environment(root).items())
    return [
        f"export {environment}",
        f"QiskitRuntimeService(channel='ibm_quantum_platform', token='{api_key}', "
        f"instance='{instance}', url='{root}', "
        f"url_resolver=lambda *args, **kwargs: '{root}/api/v1')",
    ]
