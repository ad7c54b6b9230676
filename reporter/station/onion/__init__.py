"""The station as a Tor onion service.

* ``keys``: the service's identity key and its v3 address; client keys for
  restricted stations (v3 client authorization). Pure: no tor, no database.
* ``stored``: where those keys live, inside the encrypted station database.
* ``tor``: finding, launching (stem) or attaching to ``tor``; its settings.
* ``bridges``: bridge lines and the pluggable transports they need.
* ``service``: publishing the station with ``ADD_ONION`` and its DoS defences.
* ``card``: the printable card and the terminal QR code.

See docs/onion.md for how an operator uses it and why each setting is what it is.
"""
