"""The only streamlit-aware code in the package: caching and shared widgets."""
