"""What the station's web pages and the review desk share: pure WSGI, no Flask.

``headers`` holds the security headers both send on every answer, and
``guard`` the last line of defence between an app and its WSGI server. This
package sits below ``station`` and ``review`` (which never import each
other) and above ``i18n`` (README, Layout; ``lint-imports`` checks it).
"""
