"""Finding the submissions of a class folder in every supported layout (nothing is graded here)."""
import shutil
import zipfile

from graders.classroom.submissions import content_digest, discover
from tests.helpers import EXAMPLES


def found(folder) -> dict:
    jobs, _ = discover(folder)
    return {job.key: job for job in jobs}


def test_a_zip_per_student_and_a_folder_per_student(tmp_path):
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'alice_1_cs231n.zip')
    shutil.copy(EXAMPLES / '2_pytorch.zip', tmp_path / 'alice-2_pytorch.zip')
    (tmp_path / 'bob').mkdir()
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'bob' / '1_cs231n.zip')
    (tmp_path / 'bob' / '2_pytorch' / 'models').mkdir(parents=True)
    (tmp_path / 'carol' / 'cs231n').mkdir(parents=True)           # Part 1's files directly in carol/
    (tmp_path / 'dan').mkdir()
    shutil.copy(EXAMPLES / '2_pytorch.zip', tmp_path / 'dan' / 'upload.zip')  # part from the zip's names
    (tmp_path / 'notes.txt').write_text('not a submission')
    jobs = found(tmp_path)
    assert set(jobs) == {'alice/part1', 'alice/part2', 'bob/part1', 'bob/part2', 'carol/part1', 'dan/part2'}
    assert jobs['bob/part2'].path == tmp_path / 'bob' / '2_pytorch'
    assert jobs['carol/part1'].path == tmp_path / 'carol'
    assert jobs['dan/part2'].part == 2


def test_canvas_bulk_download(tmp_path):
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'smithalice_12345_678901_1_cs231n.zip')
    shutil.copy(EXAMPLES / '2_pytorch.zip', tmp_path / 'smithalice_late_12345_678902_2_pytorch-1.zip')
    jobs = found(tmp_path)
    assert set(jobs) == {'smithalice/part1', 'smithalice/part2'}
    assert {job.canvas_id for job in jobs.values()} == {'12345'}


def test_gradescope_export_names_students_from_its_metadata(tmp_path):
    (tmp_path / 'submission_111').mkdir()
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'submission_111' / '1_cs231n.zip')
    (tmp_path / 'submission_222' / 'cs231n').mkdir(parents=True)
    (tmp_path / 'submission_metadata.yml').write_text(
        "submission_111:\n  :submitters:\n  - :name: Alice Smith\n    :sid: '9001'\n    :email: asmith@uni.edu\n"
        "  :created_at: 2026-02-01 10:00:00 +0000\n"
        "submission_222:\n  :submitters:\n  - :name: Bob Jones\n    :sid: '9002'\n    :email: bjones@uni.edu\n")
    jobs = found(tmp_path)
    assert set(jobs) == {'asmith/part1', 'bjones/part1'}
    assert (jobs['asmith/part1'].display, jobs['asmith/part1'].sis_id) == ('Alice Smith', '9001')


def test_a_second_submission_for_the_same_part_is_reported_not_graded_twice(tmp_path):
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'alice_1_cs231n.zip')
    (tmp_path / 'alice').mkdir()
    shutil.copy(EXAMPLES / '1_cs231n.zip', tmp_path / 'alice' / '1_cs231n.zip')
    jobs, warnings = discover(tmp_path)
    assert [job.key for job in jobs] == ['alice/part1'] and 'second part1 submission' in warnings[0]


def test_a_broken_zip_is_still_a_submission(tmp_path):
    (tmp_path / 'eve_1_cs231n.zip').write_bytes(b'PK\x03\x04 broken')
    (tmp_path / 'frank.zip').write_bytes(b'not a zip at all')
    assert set(found(tmp_path)) == {'eve/part1', 'frank/part1'}


def test_the_digest_follows_the_content(tmp_path):
    folder = tmp_path / 'alice'
    (folder / 'cs231n').mkdir(parents=True)
    (folder / 'cs231n' / 'layers.py').write_text('a = 1\n')
    before = content_digest(folder)
    (folder / 'cs231n' / 'layers.py').write_text('a = 2\n')
    assert content_digest(folder) != before
    with zipfile.ZipFile(tmp_path / 'a.zip', 'w') as z:
        z.writestr('x', 'y')
    assert len(content_digest(tmp_path / 'a.zip')) == 64


def test_batch_records_the_digest_grading_computes(tmp_path):
    """One digest of a submission: batch's (to skip what it graded) is intake's Submission.digest (the
    grade's seed), for a zip and for a folder, whose junk does not count; a refused folder matches nothing."""
    import os

    from graders.engine.intake import open_submission
    folder = tmp_path / 'alice' / '1_cs231n'
    (folder / 'cs231n' / 'classifiers').mkdir(parents=True)
    (folder / 'cs231n' / 'layers.py').write_text('a = 1\n')
    (folder / 'cs231n' / 'classifiers' / 'softmax.py').write_text('b = 2\n')
    opened = open_submission(folder, scratch=tmp_path / 'scratch')
    assert content_digest(folder) == opened.digest
    (folder / 'cs231n' / '__pycache__').mkdir()
    (folder / 'cs231n' / '__pycache__' / 'layers.cpython-311.pyc').write_bytes(b'junk')
    assert content_digest(folder) == opened.digest
    shutil.make_archive(str(tmp_path / 'alice_1_cs231n'), 'zip', folder.parent)
    zipped = tmp_path / 'alice_1_cs231n.zip'
    assert content_digest(zipped) == open_submission(zipped, scratch=tmp_path / 'scratch').digest
    os.mkfifo(folder / 'pipe')
    assert content_digest(folder) != content_digest(folder)
