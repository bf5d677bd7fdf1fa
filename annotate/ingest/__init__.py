"""Media ingestion: upload page, REST upload and import_media, all through services.py.

Hostile input is the normal case here: types are sniffed from content, images verified under
a pixel limit, videos decoded in a limited child process, zips checked before any read.
"""
