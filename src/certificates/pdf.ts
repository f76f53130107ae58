import fs from 'node:fs';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import bidiFactory from 'bidi-js';
import * as fontkit from 'fontkit';
import { projectPath } from '../paths.ts';

export interface CertificatePdfInput {
  readonly holderName: string;
  readonly courseTitle: string;
  readonly instructorName: string;
  readonly completionDate: Date;
  readonly certificateNumber: string;
  readonly verifyUrl: string;
  /** Written as the PDF's creation and modification dates; fixed so the bytes are reproducible. */
  readonly issuedAt: Date;
}

const LATIN = 'Helvetica';
const LATIN_BOLD = 'Helvetica-Bold';
/** The Arabic font as the invisible text layer (see arabicRun). */
const ARABIC_TEXT = 'NotoNaskhArabic-Text';
const ARABIC_FONT_FILE = projectPath('node_modules/@expo-google-fonts/noto-naskh-arabic/400Regular/NotoNaskhArabic_400Regular.ttf');

let arabicFont: { bytes: Buffer; font: fontkit.Font } | undefined;

function loadArabicFont(): { bytes: Buffer; font: fontkit.Font } {
  if (!arabicFont) {
    const bytes = fs.readFileSync(ARABIC_FONT_FILE);
    arabicFont = { bytes, font: fontkit.create(bytes) as fontkit.Font };
  }
  return arabicFont;
}
// bidi-js is CommonJS whose module.exports is the factory; its typings declare an ES default.
const bidi = (bidiFactory as unknown as typeof bidiFactory.default)();

// Arabic, Arabic Supplement/Extended, and the presentation forms.
const ARABIC_CHARS = /[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]/;

/** The date as printed on the certificate (UTC, so the server's zone does not change the bytes). */
export function formatCertificateDate(date: Date): string {
  return new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(date);
}

interface Run {
  readonly text: string;
  readonly arabic: boolean;
}

/**
 * One line split into runs in visual (left-to-right) order. Reordering is by whole runs (Unicode
 * bidi rule L2); inside a right-to-left run the text stays in logical order, because fontkit
 * shapes Arabic and reverses the run's glyphs itself.
 */
function visualRuns(text: string): Run[] {
  if (!ARABIC_CHARS.test(text)) return [{ text, arabic: false }];
  const { levels } = bidi.getEmbeddingLevels(text, 'ltr');
  const logical: { text: string; level: number }[] = [];
  for (let i = 0; i < text.length; i++) {
    const last = logical.at(-1);
    if (last && last.level === levels[i]) last.text += text[i];
    else logical.push({ text: text[i]!, level: levels[i]! });
  }
  const maxLevel = Math.max(...logical.map((r) => r.level));
  for (let level = maxLevel; level >= 1; level--) {
    for (let i = 0; i < logical.length;) {
      if (logical[i]!.level < level) {
        i++;
        continue;
      }
      let j = i;
      while (j < logical.length && logical[j]!.level >= level) j++;
      logical.splice(i, j - i, ...logical.slice(i, j).reverse());
      i = j;
    }
  }
  return logical.map((r) => ({ text: r.text, arabic: ARABIC_CHARS.test(r.text) }));
}

// Everything the Arabic shaper would apply, off: the text layer wants one glyph per character.
const UNSHAPED = [
  'ccmp',
  'locl',
  'isol',
  'fina',
  'fin2',
  'fin3',
  'medi',
  'med2',
  'init',
  'rlig',
  'calt',
  'liga',
  'clig',
  'mset',
  'rclt',
  'curs',
  'kern',
  'mark',
  'mkmk',
];

/**
 * An Arabic run: shaped by fontkit and drawn as outlines, with the same characters, unshaped,
 * as invisible text over it. Drawn as text, the shaped glyphs would make a poor text layer:
 * the font decomposes letters into a base and a dot or hamza mark (which carry no character),
 * and a PDF maps each glyph to one character, so copy, search and extraction would come out
 * scrambled. The invisible run keeps one glyph per character, in visual order like any PDF text.
 */
function arabicRun(doc: PDFKit.PDFDocument, text: string, x: number, baseline: number, size: number): number {
  const { font } = loadArabicFont();
  const scale = size / font.unitsPerEm;
  const run = font.layout(text);
  let pen = x;
  run.glyphs.forEach((glyph, i) => {
    const pos = run.positions[i]!;
    doc.save();
    doc.transform(scale, 0, 0, -scale, pen + pos.xOffset * scale, baseline - pos.yOffset * scale);
    doc.path(glyph.path.toSVG()).fill();
    doc.restore();
    pen += pos.xAdvance * scale;
  });
  const width = pen - x;
  const features = Object.fromEntries(UNSHAPED.map((tag) => [tag, false])) as unknown as PDFKit.Mixins.OpenTypeFeatures[];
  doc.font(ARABIC_TEXT).fontSize(size);
  const plainWidth = doc.widthOfString(text, { features });
  doc.save().fillOpacity(0);
  // Stretched to the drawn width, so a selection covers the visible words (pdfkit has the
  // option; its typings do not).
  const options = { features, lineBreak: false, baseline: 'alphabetic', horizontalScaling: plainWidth > 0 ? (100 * width) / plainWidth : 100 };
  doc.text(text, x, baseline, options as PDFKit.Mixins.TextOptions);
  doc.restore();
  return width;
}

/**
 * Draws a line centred on `centreX`, its baseline at `y`, shrinking the type so that it fits
 * `maxWidth`: names and titles are user input, up to 255 characters.
 */
function centredLine(doc: PDFKit.PDFDocument, text: string, centreX: number, y: number, size: number, latinFont = LATIN, maxWidth = Infinity): void {
  const runs = visualRuns(text);
  const { font } = loadArabicFont();
  const measure = (at: number) =>
    runs.map((run) => (run.arabic ? (font.layout(run.text).advanceWidth * at) / font.unitsPerEm : doc.font(latinFont).fontSize(at).widthOfString(run.text)));
  let widths = measure(size);
  const total = widths.reduce((a, b) => a + b, 0);
  if (total > maxWidth) {
    size = (size * maxWidth) / total;
    widths = measure(size);
  }
  let x = centreX - widths.reduce((a, b) => a + b, 0) / 2;
  runs.forEach((run, i) => {
    if (run.arabic) arabicRun(doc, run.text, x, y, size);
    else doc.font(latinFont).fontSize(size).text(run.text, x, y, { lineBreak: false, baseline: 'alphabetic' });
    x += widths[i]!;
  });
}

/** The certificate as a one-page A4 landscape PDF; the same input always gives the same bytes. */
export async function renderCertificatePdf(input: CertificatePdfInput): Promise<Buffer> {
  const qr = await QRCode.toBuffer(input.verifyUrl, { type: 'png', margin: 1, width: 240, errorCorrectionLevel: 'M' });
  const doc = new PDFDocument({
    size: 'A4',
    layout: 'landscape',
    margin: 0,
    // pdfkit derives the file /ID from the info dictionary, so fixed dates make it fixed too.
    info: {
      Title: `Certificate ${input.certificateNumber}`,
      Author: 'Coursebase',
      Subject: `${input.holderName}: ${input.courseTitle}`,
      CreationDate: input.issuedAt,
      ModDate: input.issuedAt,
    },
  });
  doc.registerFont(ARABIC_TEXT, loadArabicFont().bytes);
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const { width, height } = doc.page;
  const centre = width / 2;
  doc
    .lineWidth(3)
    .strokeColor('#1f3a5f')
    .rect(24, 24, width - 48, height - 48)
    .stroke();
  doc
    .lineWidth(1)
    .rect(32, 32, width - 64, height - 64)
    .stroke();
  doc.fillColor('#1f3a5f');
  centredLine(doc, 'Certificate of Completion', centre, 110, 36, LATIN_BOLD);
  doc.fillColor('#222222');
  centredLine(doc, 'This certifies that', centre, 165, 16);
  const textWidth = width - 160;
  centredLine(doc, input.holderName, centre, 215, 32, LATIN_BOLD, textWidth);
  centredLine(doc, 'has successfully completed the course', centre, 260, 16);
  centredLine(doc, input.courseTitle, centre, 305, 24, LATIN_BOLD, textWidth);
  centredLine(doc, `Instructor: ${input.instructorName}`, centre, 350, 16, LATIN, textWidth);
  centredLine(doc, `Completed on ${formatCertificateDate(input.completionDate)}`, centre, 380, 16);

  const qrSize = 110;
  doc.image(qr, width - 60 - qrSize, height - 60 - qrSize, { width: qrSize, height: qrSize });
  doc.fillColor('#444444').font(LATIN).fontSize(11);
  doc.text(`Certificate number: ${input.certificateNumber}`, 60, height - 95, { lineBreak: false });
  doc.text(`Verify at: ${input.verifyUrl}`, 60, height - 78, { lineBreak: false, link: input.verifyUrl });

  doc.end();
  return done;
}
