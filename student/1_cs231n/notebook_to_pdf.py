"""Turn Jupyter notebooks into PDFs, offline and without LaTeX: nbconvert writes HTML with the
plots embedded, then a headless Chrome or Chromium prints it.

    python notebook_to_pdf.py softmax.ipynb layers.ipynb ...   # writes softmax.pdf, layers.pdf, ...

The browser is $CHROME if set, else the first of chromium, chromium-browser, google-chrome,
google-chrome-stable, chrome or microsoft-edge on PATH, else the usual macOS application folders.
The browser never goes online (every host name is made unresolvable), so what a PDF shows is what
the notebook holds; LaTeX in Markdown cells stays as typed.

Exit status: 0 when every PDF was written; 1 when some notebook could not be converted (the others
were); 2 when nothing could be converted (no browser, no nbconvert).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSER_NAMES = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome',
                 'microsoft-edge')
MACOS_APPS = ('Google Chrome.app/Contents/MacOS/Google Chrome',
              'Chromium.app/Contents/MacOS/Chromium',
              'Microsoft Edge.app/Contents/MacOS/Microsoft Edge')
PRINT_TIMEOUT = 180  # seconds for one notebook; a long notebook prints in a few seconds
# On paper nothing can scroll: long code and output lines wrap, and a plot is never cut in two.
PRINT_CSS = '''<style>
@page { margin: 1.5cm 1.2cm; }
@media print {
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
  img, svg { break-inside: avoid; max-width: 100%; }
}
</style>
'''

INSTALL_HINT = ('install Chromium or Google Chrome (Debian: sudo apt-get install chromium; '
                'Ubuntu: sudo snap install chromium; macOS: the Google Chrome app, or '
                'brew install --cask chromium), or set CHROME to the browser program')


class SetupError(Exception):
    """Something missing on this machine: no notebook can be converted until it is installed."""


def find_browser(environ=os.environ):
    """The path of a Chrome-like browser: $CHROME, else one on PATH, else a macOS app; or None."""
    if environ.get('CHROME'):
        chosen = environ['CHROME']
        found = shutil.which(chosen)
        if found is None:
            raise SetupError('CHROME={} is not a program that can be run'.format(chosen))
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for folder in ('/Applications', os.path.expanduser('~/Applications')):
        for app in MACOS_APPS:
            path = os.path.join(folder, app)
            if os.access(path, os.X_OK):
                return path
    return None


def notebook_html(notebook):
    """The notebook as one self-contained HTML page (outputs and Markdown images embedded)."""
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError:
        raise SetupError('nbconvert is not installed for {}: pip install nbconvert'.format(sys.executable))
    nb = nbformat.read(str(notebook), as_version=4)
    if not any(cell.get('outputs') for cell in nb.cells if cell.cell_type == 'code'):
        warn('{} has no outputs: run it (Kernel > Restart & Run All) and save it first'.format(notebook))
    exporter = HTMLExporter(embed_images=True)
    # The folder of the notebook resolves the images its Markdown cells refer to.
    html, _ = exporter.from_notebook_node(nb, resources={'metadata': {'path': str(Path(notebook).parent),
                                                                      'name': Path(notebook).stem}})
    return html.replace('</head>', PRINT_CSS + '</head>', 1)


def browser_command(browser, html_file, pdf_file, profile):
    """The headless print command. Chrome refuses to run as root without --no-sandbox."""
    command = [browser, '--headless', '--disable-gpu', '--disable-dev-shm-usage',
               '--no-first-run', '--no-default-browser-check', '--user-data-dir=' + str(profile),
               # offline: every host name fails at once (the nbconvert page asks for MathJax)
               '--host-resolver-rules=MAP * ~NOTFOUND',
               '--no-pdf-header-footer', '--print-to-pdf-no-header',
               '--print-to-pdf=' + str(pdf_file)]
    if hasattr(os, 'geteuid') and os.geteuid() == 0:
        command.append('--no-sandbox')
    return command + [Path(html_file).resolve().as_uri()]


def print_to_pdf(browser, html, pdf_file):
    """Print the HTML text to pdf_file with the headless browser; raise RuntimeError if it fails."""
    # Scratch files go beside the PDF, not to /tmp: Ubuntu's snap Chromium has a /tmp of its own.
    with tempfile.TemporaryDirectory(prefix='notebook_to_pdf-', dir=str(Path(pdf_file).parent)) as scratch:
        html_file = Path(scratch) / 'page.html'
        html_file.write_text(html, encoding='utf-8')
        printed = Path(scratch) / 'page.pdf'
        # A profile of its own: a Chrome the user has open keeps its profile locked.
        command = browser_command(browser, html_file, printed, Path(scratch) / 'profile')
        try:
            proc = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=PRINT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError('{} did not finish within {} s'.format(browser, PRINT_TIMEOUT))
        if not printed.is_file() or printed.read_bytes()[:5] != b'%PDF-':
            output = proc.stdout.decode(errors='replace').strip().splitlines()
            raise RuntimeError('{} wrote no PDF (exit status {}): {}'.format(
                browser, proc.returncode, ' | '.join(output[-5:])))
        shutil.move(str(printed), str(pdf_file))


def convert(notebook, browser):
    """Write <notebook>.pdf beside the notebook (any older one is removed first) and return its path."""
    notebook = Path(notebook)
    pdf_file = notebook.with_suffix('.pdf')
    if pdf_file.exists():
        pdf_file.unlink()  # a failed conversion must not leave an outdated PDF behind
    print_to_pdf(browser, notebook_html(notebook), pdf_file)
    return pdf_file


def warn(message):
    print('notebook_to_pdf.py: warning: ' + message, file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('notebooks', nargs='+', metavar='NOTEBOOK.ipynb')
    args = parser.parse_args(argv)
    try:
        browser = find_browser()
        if browser is None:
            raise SetupError('no Chrome or Chromium found: ' + INSTALL_HINT)
        failed = []
        for notebook in args.notebooks:
            try:
                print('wrote {}'.format(convert(notebook, browser)))
            except (OSError, ValueError, RuntimeError) as e:  # unreadable notebook, browser failure
                print('notebook_to_pdf.py: error: {}: {}'.format(notebook, e), file=sys.stderr)
                failed.append(notebook)
    except SetupError as e:
        print('notebook_to_pdf.py: error: {}'.format(e), file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
