"""Django project served by the test authorization server subprocess.

It is imported as the top-level package ``project`` inside that subprocess only, so
the pytest process never configures Django.
"""
