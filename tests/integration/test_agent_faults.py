"""The agent under odd files and full disks: a file whose size is below the read offset is not
read again and again, a spool name past 2^64 does not stop the start, a full disk under
state_dir never deadlocks."""
import errno
import os
import subprocess
import time

import agent_testlib as L
import slt_harness as H

# a procfs file: st_size 0, one stable line
PROC_FILE = "/proc/sys/kernel/ostype"


class AgentFaults(L.AgentCase):
    prefix = "slt-agent-faults-"

    def it_does_not_reread_a_file_whose_size_is_below_its_offset(self):
        self.setup()
        try:
            if not os.path.exists(PROC_FILE) or os.stat(PROC_FILE).st_size != 0:
                print("skip: no procfs file of size 0 at %s" % PROC_FILE)
                return
            cfg = L.agent_config(self.tmp, self.port, [PROC_FILE])
            a = L.Agent(self.tmp, cfg).start()
            H.wait_for(lambda: L.input_totals(self.fake.totals())[0] >= 1, timeout=20,
                       what="the line of %s counted" % PROC_FILE)
            # a few poll intervals (100 ms) and flushes: a file taken for truncated at every
            # check would be counted again each time
            time.sleep(1.5)
            H.check_equal(L.input_totals(self.fake.totals())[:2], (1, 1), "lines, unparsed")
            st = a.status()
            H.check_equal(st["inputs"][0]["truncations"], 0, "truncations")
            # and after a restart, from the checkpoint
            H.check_equal(a.term(), 0, "exit code")
            a.start()
            a.wait_started()
            time.sleep(1.0)
            H.check_equal(L.input_totals(self.fake.totals())[:2], (1, 1), "after a restart")
            H.check_equal(a.term(), 0, "exit code")
            if "size is not trusted" not in a.output():
                raise AssertionError("the untrusted size was not logged")
        finally:
            self.teardown()

    def it_starts_past_a_spool_file_named_like_a_segment_past_2_64(self):
        self.setup()
        try:
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            os.makedirs(self.tmp.join("state", "spool"))
            self.tmp.write(os.path.join("state", "spool", "99999999999999999999.seg"), "x")
            self.writer.write(300)
            a = L.Agent(self.tmp, cfg).start()
            L.wait_exact(self.fake, [self.writer])
            H.check_equal(a.term(), 0, "exit code")
            if "not a spool segment name" not in a.output():
                raise AssertionError("the foreign spool file was not logged")
        finally:
            self.teardown()

    def mount_small_tmpfs(self, path, size):
        """A size-limited tmpfs at path; None (and a reason printed) when that is not possible."""
        if os.geteuid() != 0:
            print("skip: mounting a small tmpfs needs root")
            return None
        os.makedirs(path)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs",
                            path], capture_output=True, text=True)
        if r.returncode != 0:
            print("skip: cannot mount a tmpfs: %s" % r.stderr.strip())
            return None
        self.mounts.append(path)
        return path

    def fill(self, path):
        """Writes path until the file system is full; returns the bytes written."""
        n = 0
        with open(path, "wb", buffering=0) as f:
            chunk = b"\0" * 4096
            while True:
                try:
                    n += f.write(chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    return n

    def it_keeps_going_when_the_state_dir_disk_is_full(self):
        self.setup()
        self.mounts = []
        try:
            state = self.mount_small_tmpfs(self.tmp.join("state"), "1m")
            if not state:
                return
            cfg = L.agent_config(self.tmp, self.port, [self.writer.path])
            a = L.Agent(self.tmp, cfg).start()
            self.writer.write(2000)
            L.wait_exact(self.fake, [self.writer])
            H.wait_for(lambda: os.path.exists(os.path.join(state, "reserve")),
                       what="space reserved at start")
            # someone else fills the disk: every batch acknowledged, nothing can be spooled
            filler = os.path.join(state, "filler")
            self.fill(filler)
            for _ in range(10):
                self.writer.write(400)
                time.sleep(0.1)
            L.wait_exact(self.fake, [self.writer], timeout=40)
            # and once the space is back, the reserve is made again
            os.unlink(filler)
            self.writer.write(1000)
            L.wait_exact(self.fake, [self.writer])
            H.wait_for(lambda: os.path.exists(os.path.join(state, "reserve")), timeout=20,
                       what="space reserved again")
            st = a.status()
            if st["counters"]["disk_full_events"] < 1:
                raise AssertionError("the full disk was not counted: %s" % st["counters"])
            H.check_equal(st["disk_full"], False, "disk_full after the space came back")
            H.check_equal(a.term(), 0, "exit code")
            if "is full" not in a.output():
                raise AssertionError("the full disk was not logged")
        finally:
            kill_and_unmount = self.mounts
            L.kill_all()
            for m in kill_and_unmount:
                subprocess.run(["umount", "-l", m])
            self.teardown()


if __name__ == "__main__":
    AgentFaults().run_all()
