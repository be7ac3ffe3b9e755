"""kill -9 of the agent mid-ingest, rotations, truncation and inode reuse while stopped: every
complete line is counted exactly once (zero difference in every (SLI, minute, class))."""
import os
import random
import signal
import threading
import time

import agent_testlib as L
import slt_harness as H


class AgentCrash(L.AgentCase):
    prefix = "slt-agent-crash-"

    def it_counts_every_line_once_across_many_kill9_with_rotations(self):
        self.setup()
        rnd = random.Random(7)
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            for round_ in range(20):
                for _ in range(rnd.randint(2, 6)):
                    self.writer.write(rnd.randint(50, 800))
                    time.sleep(rnd.uniform(0.0, 0.08))
                if round_ % 5 == 2:
                    self.writer.rotate_rename()
                    self.writer.write(rnd.randint(10, 300))
                elif round_ % 5 == 4:
                    self.writer.rotate_copytruncate()
                    self.writer.write(rnd.randint(10, 300))
                a.kill9()
                self.writer.write(rnd.randint(0, 200))
                a.start()
                time.sleep(rnd.uniform(0.0, 0.3))
            L.wait_exact(self.fake, [self.writer], timeout=40)
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_counts_a_line_that_was_partial_at_kill_time_once(self):
        self.setup()
        try:
            self.writer.write(100)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            self.writer.write_partial()
            time.sleep(0.5)
            a.kill9()
            self.writer.write(5)  # completes the partial line first
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_rereads_a_file_truncated_while_stopped(self):
        self.setup()
        try:
            self.writer.write(1000)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
            with open(self.writer.path, "r+") as f:
                f.truncate(0)
            self.writer.write(100)  # smaller than the checkpointed offset
            a.start()
            L.wait_exact(self.fake, [self.writer])
            st = H.wait_for(a.status, what="status")
            H.check_equal(st["inputs"][0]["truncations"] >= 1, True, "truncation seen")
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_follows_a_new_file_that_reuses_the_inode_while_stopped(self):
        self.setup()
        try:
            self.writer.write(300)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
            ino = os.stat(self.writer.path).st_ino
            os.unlink(self.writer.path)
            # the new file gets the freed inode on most file systems; its first bytes differ
            w2 = L.LogWriter(self.writer.path, seed=5000)
            w2.write(800)
            reused = os.stat(w2.path).st_ino == ino
            a.start()
            L.wait_exact(self.fake, [self.writer, w2])
            H.check_equal(a.term(), 0, "exit code")
            print("inode reused: %s" % reused)
        finally:
            self.teardown()

    def _kill_while_writing(self, rotate_every_s, kills=15):
        rnd = random.Random(11)
        stop = threading.Event()

        def write_loop():
            n = 0
            last = time.time()
            while not stop.is_set():
                self.writer.write(200)
                if time.time() - last >= rotate_every_s:
                    last = time.time()
                    n += 1
                    if n % 2:
                        self.writer.rotate_rename()
                    else:
                        self.writer.rotate_copytruncate()
                time.sleep(0.005)
        cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
        a = L.Agent(self.tmp, cfg).start()
        t = threading.Thread(target=write_loop)
        t.start()
        try:
            for _ in range(kills):
                time.sleep(rnd.uniform(0.1, 0.6))
                a.kill9()
                a.start()
        finally:
            stop.set()
            t.join()
        L.wait_exact(self.fake, [self.writer], timeout=40)
        H.check_equal(a.term(), 0, "exit code")
        if self.writer.lines < 20000:
            raise AssertionError("writer wrote only %d lines" % self.writer.lines)

    def it_loses_nothing_when_killed_while_a_writer_keeps_writing_and_rotating(self):
        # a rotation a second, alternating rename and copytruncate, 15 kills
        self.setup()
        try:
            self._kill_while_writing(1.0)
        finally:
            self.teardown()

    # Rotations every 15 ms (hundreds of shifted siblings), alternating rename and copytruncate,
    # with 15 kill -9. What it used to lose (issue 10, found with inode-stamped logs and a tail
    # trace, every loss a whole file B made by a rename rotation and copytruncated ms later):
    # - the restart path: the checkpoint held B at the path while still empty (no first
    #   bytes), and the newest sibling A as its mark. While the agent was down B got lines, was
    #   copytruncated (its lines now only in the copy C) and then renamed away itself, so C
    #   sorted older than B. The restart took "newer than B" for "came while we were down" and
    #   never read C. It now counts from the mark (older than C); a copy of a restored file is
    #   still left to the copytruncate search. Pinned by
    #   it_reads_the_copy_of_a_file_empty_at_the_checkpoint_and_renamed_after_its_copy.
    # - the running tailer held a young sibling (maybe a copy being made) for the next scan
    #   but the checkpoint's mark already covered it: killed before it was judged, it was
    #   never read. Held siblings are now kept from under the mark, also one renamed while it
    #   was judged or missed by one listing (both were forgotten), and an empty new sibling is
    #   held in every case (it was adopted while being copied: counted twice). Pinned by
    #   it_reads_a_sibling_still_held_when_killed.
    # - a start took its first sibling snapshot from a listing after it opened the files: a
    #   copy made meanwhile of the file at the path, still empty when opened, was in it and
    #   never judged. The start's own listing is now that snapshot; an empty sibling new at a
    #   restart (a copy just created) is held, no longer read from 0 (counted twice).
    # - a start whose listing saw the file at the path with its lines, the copy done, and whose
    #   open came after the truncate: the copy was left as "a copy of the live file" and the
    #   file followed with its new first bytes. It now keeps the listed identity, so its first
    #   read sees the truncation and reads the copy.
    # - counted twice, while running: a copy that the truncation's copy search did not find
    #   (renamed by the next rotation while listed) was then taken from 0 for a file rotated
    #   between scans; the truncation is now remembered and the copy read from the offset. And
    #   a copy of what the unread file at the path still held (its truncate not done yet) was
    #   taken from 0 while that file was read too; it is now held until that is clear.
    # Evidence (2026-12-05, this code): 0 failures in 100 runs, 5.6-5.8 s each, load average
    # under 2, with
    #   for i in $(seq 100); do SLT_BIN_DIR=build/bin PYTHONPATH=tests/lib \
    #     SLT_ONLY=every_few_milliseconds python3 tests/integration/test_agent_crash.py \
    #     >/dev/null 2>&1 || echo "FAIL $i"; done
    # (the same through ctest: SLT_ONLY=... ctest --test-dir build -R '^test_agent_crash$').
    # Without the last point the same loop gave 1 in 100 (counted twice). Earlier states,
    # with a journaling writer and a tail trace: 290 of 290 runs two or three at a time (load
    # 3-5), 80 of 80 at 0.1 s rotations; the test also passes under ASan.
    def it_loses_nothing_under_rotations_every_few_milliseconds(self):
        self.setup()
        try:
            self._kill_while_writing(0.015)
        finally:
            self.teardown()

    def it_closes_batches_early_at_minutes_kept_and_counts_exactly(self):
        self.setup()
        try:
            w = L.LogWriter(self.tmp.join("logs", "backfill.log"), spread_s=60)
            w.write(3000)  # 3000 distinct minutes
            cfg = L.agent_config(self.tmp, self.port, [w.path], flush="500ms",
                                 extra_agent="  minutes_kept: 10\n")
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [w], timeout=40)
            st = H.wait_for(lambda: (lambda s: s if s and s["counters"]["early_closes"] > 100
                                     else None)(a.status()), what="early closes")
            if st["counters"]["batches"] < 100:
                raise AssertionError("only %d batches" % st["counters"]["batches"])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_counts_lines_written_while_a_fresh_read_from_end_agent_was_down(self):
        self.setup()
        try:
            old = L.LogWriter(self.writer.path, seed=900000)
            old.write(300)  # before the first start: skipped by read_from: end
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path], read_from="end")
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: (lambda s: s and s["inputs"][0]["files"] and
                                s["inputs"][0]["files"][0]["offset"] > 0)(a.status()),
                       what="file opened at its end")
            time.sleep(1.5)  # a tick checkpoints the positions
            a.kill9()
            self.writer.write(400)  # while down, before any line was ever counted
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_drains_a_file_rotated_by_rename_while_stopped(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            a.kill9()
            self.writer.write(300)  # after the checkpoint, in the file about to rotate
            self.writer.rotate_rename()
            self.writer.write(200)
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_drains_the_copy_of_a_copytruncate_done_while_stopped(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            a.kill9()
            self.writer.write(300)  # only in the copy after the truncation
            self.writer.rotate_copytruncate()
            self.writer.write(50)  # smaller than the checkpointed offset
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_reads_the_copy_of_a_file_empty_at_the_checkpoint_and_renamed_after_its_copy(self):
        # The exact sequence behind the fast-rotation losses (issue 10): the checkpoint holds
        # the file at the path while still empty (no first bytes to know a copy by) and the
        # sibling before it as the newest one. While the agent is down that file gets lines,
        # is copytruncated (they are now only in its copy) and is then renamed away itself, so
        # its copy sorts older than it: the copy must still be read as new.
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            self.writer.rotate_rename()  # access.log -> .1, a new empty access.log

            def empty_file_checkpointed():
                # status.json is written on the tick that checkpoints the positions, just after
                st = a.status()
                files = st["inputs"][0]["files"] if st else []
                paths = {f["path"]: f["offset"] for f in files}
                return paths.get(self.writer.path) == 0 and self.writer.path + ".1" in paths
            H.wait_for(empty_file_checkpointed, what="empty file at the path checkpointed")
            a.kill9()
            self.writer.write(300)  # only in the empty file of the checkpoint
            self.writer.rotate_copytruncate()  # ... and now only in its copy, access.log.1
            self.writer.write(100)
            self.writer.rotate_rename()  # copy -> .2, the file of the checkpoint -> .1
            self.writer.write(50)
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_reads_a_sibling_still_held_when_killed(self):
        # A new sibling that may be a copy still being made is held, judged at a later scan;
        # until then the checkpoint's mark must stay older than it, or a kill -9 meanwhile
        # loses it. The agent is stopped (SIGSTOP) while the file at the path, empty when last
        # listed, gets lines, is copytruncated and written again: when it goes on, the copy
        # holds lines it never saw. Its mtime, set ahead, keeps it held (as a copy still being
        # written) for the kill; a run where it was judged before the kill passes too.
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            self.writer.rotate_rename()

            def empty_file_followed():
                st = a.status()
                files = st["inputs"][0]["files"] if st else []
                paths = {f["path"]: f["offset"] for f in files}
                return paths.get(self.writer.path) == 0 and self.writer.path + ".1" in paths
            H.wait_for(empty_file_followed, what="empty file at the path followed")
            a.signal(signal.SIGSTOP)
            try:
                self.writer.write(300)
                self.writer.rotate_copytruncate()  # those 300 lines only in access.log.1
                self.writer.write(100)
                ahead = time.time() + 1.5
                os.utime(self.writer.path + ".1", (ahead, ahead))
            finally:
                a.signal(signal.SIGCONT)
            # the 100 lines counted: the copy is held, and the positions are checkpointed
            H.wait_for(lambda: L.input_totals(self.fake.totals())[0] >= 600, timeout=20,
                       what="the lines after the truncation counted")
            time.sleep(0.3)
            a.kill9()
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()

    def it_drains_every_file_of_two_rotations_while_stopped(self):
        self.setup()
        try:
            self.writer.write(500)
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            a.kill9()
            self.writer.write(300)
            self.writer.rotate_rename()
            self.writer.write(200)
            self.writer.rotate_rename()  # the checkpointed file is now access.log.2
            self.writer.write(100)
            a.start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
        finally:
            self.teardown()


if __name__ == "__main__":
    AgentCrash().run_all()
