"""Dashboard pages (run through streamlit_app.py); a package so ``pages._common`` imports."""
