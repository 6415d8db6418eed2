"""azure-preflight: can this principal really reach this Azure AI resource with Microsoft Entra ID auth?"""

__version__ = "0.1.0"
