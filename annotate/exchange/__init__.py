"""Export and import of annotations in the formats ML engineers train on: COCO (boxes and
person keypoints, PoseTrack-style video), YOLO (detection and pose), MOTChallenge, CVAT video XML.

selectors.py reads the exported set in chunks; writers/ stream a format to a file; readers/
parse a file into records, each with its own error; services.py runs the jobs.
"""
