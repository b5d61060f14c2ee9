"""Turn Jupyter notebooks into PDFs, offline and without LaTeX: nbconvert writes HTML with the
plots embedded, then a headless Chrome or Chromium prints it.

    python notebook_to_pdf.py softmax.ipynb layers.ipynb ...   # writes softmax.pdf, layers.pdf, ...

The browser is $CHROME if set, else the first of chromium, chromium-browser, google-chrome,
google-chrome-stable, chrome or microsoft-edge on PATH, else the usual Windows and macOS
application folders. The browser never goes online (every host name is made unresolvable), so what
a PDF shows is what the notebook holds; LaTeX in Markdown cells stays as typed.

Without a browser (or when it fails), the PDF is made by matplotlib instead: every cell's code,
text output and plots, plainly laid out (--plain forces this route). A missing browser therefore
never means a missing PDF.

Exit status: 0 when every PDF was written; 1 when some notebook could not be converted (the others
were); 2 when nothing could be converted (nbformat or nbconvert missing).
"""
import argparse
import base64
import io
import re
import textwrap
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
WINDOWS_APPS = (r'Google\Chrome\Application\chrome.exe', r'Microsoft\Edge\Application\msedge.exe',
                r'Chromium\Application\chrome.exe')
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
    for variable in ('PROGRAMFILES', 'PROGRAMFILES(X86)', 'LOCALAPPDATA'):
        for app in WINDOWS_APPS if environ.get(variable) else ():
            path = os.path.join(environ[variable], app)
            if os.path.isfile(path):
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


# The plain route's page: US letter, monospaced text in lines of a fixed width.
PAGE_INCHES = (8.5, 11)
LINE_CHARS = 100
LINE_HEIGHT = 0.0125   # of the page height: 72 lines a page
MARGIN = 0.05
ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


def cell_blocks(cell):
    """One cell as ('text', lines) and ('image', png bytes) blocks, in the order they appear."""
    blocks = []
    if cell.cell_type == 'code':
        prompt = 'In [{}]: '.format(cell.get('execution_count') or ' ')
        blocks.append(('text', [prompt + line for line in cell.source.splitlines()] or [prompt]))
        for output in cell.get('outputs', []):
            data = output.get('data', {})
            if output.output_type == 'stream':
                blocks.append(('text', output.text.splitlines()))
            elif output.output_type == 'error':
                blocks.append(('text', ANSI_ESCAPE.sub('', '\n'.join(output.traceback)).splitlines()))
            elif 'image/png' in data:
                blocks.append(('image', base64.b64decode(data['image/png'])))
            elif 'text/plain' in data:
                blocks.append(('text', data['text/plain'].splitlines()))
    elif cell.source.strip():
        blocks.append(('text', cell.source.splitlines()))
    return blocks


def wrapped(lines):
    """Lines cut to the page width; matplotlib would read a $ as the start of math."""
    out = []
    for line in lines:
        out += textwrap.wrap(line.replace('$', r'\$'), LINE_CHARS, replace_whitespace=False,
                             drop_whitespace=False) or ['']
    return out


def plain_pdf(notebook, pdf_file):
    """
    Write the notebook to pdf_file with matplotlib alone (no browser, no LaTeX): each cell's source
    and text outputs as monospaced lines, its plots as images, cells separated by a blank line.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.image
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    with PdfPages(str(pdf_file)) as pdf:
        page = {'fig': None, 'y': 0.0}

        def room(height):
            """Start a new page unless `height` (a fraction of the page) fits below the cursor."""
            if page['fig'] is None or page['y'] - height < MARGIN:
                if page['fig'] is not None:
                    pdf.savefig(page['fig'])
                    plt.close(page['fig'])
                page['fig'] = plt.figure(figsize=PAGE_INCHES)
                page['y'] = 1 - MARGIN
                page['fig'].text(MARGIN, 1 - MARGIN / 2, Path(notebook).name, fontsize=8, va='center')

        for cell in nb.cells:
            for kind, content in cell_blocks(cell):
                if kind == 'text':
                    for line in wrapped(content):
                        room(LINE_HEIGHT)
                        page['fig'].text(MARGIN, page['y'], line, family='monospace', fontsize=7, va='top')
                        page['y'] -= LINE_HEIGHT
                else:
                    image = matplotlib.image.imread(io.BytesIO(content), format='png')
                    width = 1 - 2 * MARGIN
                    height = min(0.45, width * image.shape[0] / image.shape[1] * PAGE_INCHES[0] / PAGE_INCHES[1])
                    room(height)
                    ax = page['fig'].add_axes([MARGIN, page['y'] - height, width, height])
                    ax.imshow(image)
                    ax.axis('off')
                    page['y'] -= height
            page['y'] -= LINE_HEIGHT
        room(0)  # a notebook without cells still gets its page
        pdf.savefig(page['fig'])
        plt.close(page['fig'])
    return Path(pdf_file)


def convert_plain(notebook):
    """Write <notebook>.pdf beside the notebook by the plain route and return its path."""
    pdf_file = Path(notebook).with_suffix('.pdf')
    if pdf_file.exists():
        pdf_file.unlink()
    return plain_pdf(notebook, pdf_file)


def warn(message):
    print('notebook_to_pdf.py: warning: ' + message, file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('notebooks', nargs='+', metavar='NOTEBOOK.ipynb')
    parser.add_argument('--plain', action='store_true',
                        help='make plain PDFs with matplotlib, without a browser')
    args = parser.parse_args(argv)
    try:
        browser = None if args.plain else find_browser()
    except SetupError as e:
        warn('{}; making plain PDFs instead'.format(e))
        browser = None
    if browser is None and not args.plain:
        warn('no Chrome or Chromium found, so the PDFs are plain ones made by matplotlib (code, '
             'outputs and plots, without formatting). For the usual PDFs, ' + INSTALL_HINT)
    failed = []
    for notebook in args.notebooks:
        try:
            try:
                if browser is None:
                    raise SetupError('no browser')
                pdf = convert(notebook, browser)
            except (RuntimeError, SetupError) as e:
                if browser is not None:
                    warn('{}: {}; making a plain PDF instead'.format(notebook, e))
                pdf = convert_plain(notebook)
            print('wrote {}'.format(pdf))
        except ImportError as e:
            print('notebook_to_pdf.py: error: {} (pip install -r requirements.txt)'.format(e), file=sys.stderr)
            return 2
        except (OSError, ValueError) as e:  # an unreadable or malformed notebook
            print('notebook_to_pdf.py: error: {}: {}'.format(notebook, e), file=sys.stderr)
            failed.append(notebook)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
