"""DICOM: medical images with their tags (decode.py), under a privacy policy that keeps patient identifiers
out of everything the project writes (tags.py). docs/dicom.md."""
