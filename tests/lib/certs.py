"""Test certificates made with the openssl CLI at test time: a CA, certificates it signs (with
DNS and IP subjectAltNames), expired ones, and Python ssl contexts that trust them."""
import os
import ssl
import subprocess


def _run(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if p.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), p.stdout))


class CA:
    """A CA in dir/<name>: ca.pem, ca.key. issue() makes leaf certificates signed by it."""

    def __init__(self, tmp, name="ca"):
        self.dir = tmp.join("pki-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.pem = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca.key")
        _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", self.key, "-out", self.pem, "-days", "3", "-subj",
              "/CN=slitail test %s" % name], self.dir)
        with open(os.path.join(self.dir, "index.txt"), "w"):
            pass
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndir = %s\ndatabase = $dir/index.txt\n"
                    "new_certs_dir = $dir\nserial = $dir/serial\ndefault_md = sha256\n"
                    "policy = any\ncopy_extensions = copy\nunique_subject = no\n"
                    "[any]\ncommonName = supplied\n" % self.dir)

    def issue(self, cn, dns=(), ips=(), expired=False, out=None):
        """(cert_path, key_path) of a new leaf: subject CN cn, SANs dns and ips."""
        base = os.path.join(self.dir, out or cn)
        key, csr, pem = base + ".key", base + ".csr", base + ".pem"
        sans = ["DNS:%s" % d for d in dns] + ["IP:%s" % i for i in ips]
        args = ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=%s" % cn]
        if sans:
            args += ["-addext", "subjectAltName=" + ",".join(sans)]
        _run(args, self.dir)
        args = ["ca", "-batch", "-notext", "-config", os.path.join(self.dir, "ca.cnf"),
                "-cert", self.pem, "-keyfile", self.key, "-in", csr, "-out", pem]
        if expired:
            args += ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]
        else:
            args += ["-days", "2"]
        _run(args, self.dir)
        return pem, key

    def client_context(self):
        """An ssl context trusting this CA (hostname checks on)."""
        ctx = ssl.create_default_context(cafile=self.pem)
        return ctx


def serial_of(pem_path):
    p = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", pem_path],
                       stdout=subprocess.PIPE, universal_newlines=True, check=True)
    return int(p.stdout.strip().split("=", 1)[1], 16)
