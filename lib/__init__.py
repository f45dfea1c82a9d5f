"""Care Models Lab: the library behind the dashboard and the command line (no Streamlit here)."""

__version__ = "0.4.0"
