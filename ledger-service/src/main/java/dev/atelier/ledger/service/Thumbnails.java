package dev.atelier.ledger.service;

import dev.atelier.store.Artifacts;
import dev.atelier.store.Artifacts.ArtifactInfo;
import dev.atelier.store.Artifacts.Thumbnail;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.Semaphore;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Small pictures of stored images for the dashboard's gallery (GET /api/v1/artifacts/{id}?size=256): made once per
 * image and size, then kept beside the image's blob for every ledger (Artifacts.storeThumbnail).
 */
@ApplicationScoped
public class Thumbnails {

    /** The sizes offered: the longer side, in pixels. */
    public static final SortedSet<Integer> SIZES = new TreeSet<>(java.util.List.of(128, 256, 512));

    /** Images with more pixels are not decoded: a 100,000 x 100,000 PNG is a few KB that would need 40 GB. */
    static final long MAX_PIXELS = 50_000_000L;

    /** Decodes at a time in this ledger: each holds a decoded image (up to a few hundred MB without subsampling). */
    private final Semaphore decoding = new Semaphore(2);

    @Inject
    Artifacts artifacts;

    /** Why no thumbnail can be made of an artifact; the message says what it is. */
    public static final class CannotThumbnail extends Exception {
        public CannotThumbnail(String message) {
            super(message);
        }
    }

    /** The thumbnail of an image artifact, made now if it was not made before. */
    public Thumbnail of(ArtifactInfo info, int size) throws CannotThumbnail {
        var kept = artifacts.thumbnail(info.sha256(), size);
        if (kept.isPresent()) {
            return kept.get();
        }
        byte[] image = artifacts.find(info.id()).orElseThrow(() -> new CannotThumbnail("artifact " + info.id()
                + " is gone")).data();
        Thumbnail made;
        decoding.acquireUninterruptibly();
        try {
            made = new Thumbnail("image/png", make(image, size));
        } finally {
            decoding.release();
        }
        artifacts.storeThumbnail(info.sha256(), size, made);
        return made;
    }

    /** A PNG whose longer side is at most {@code size}, of the same proportions; smaller images are not enlarged. */
    static byte[] make(byte[] image, int size) throws CannotThumbnail {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(image))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new CannotThumbnail("its bytes are not an image this ledger can read (PNG, JPEG, GIF, BMP)");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                // the header alone says how large it is: checked before anything is decoded
                int width = reader.getWidth(0);
                int height = reader.getHeight(0);
                if ((long) width * height > MAX_PIXELS) {
                    throw new CannotThumbnail("it is " + width + " x " + height + " pixels, more than the "
                            + MAX_PIXELS / 1_000_000 + " million a thumbnail is made of");
                }
                // decoded at about twice the size asked for (every n-th pixel), then scaled smoothly
                ImageReadParam param = reader.getDefaultReadParam();
                int step = Math.max(1, Math.max(width, height) / (size * 2));
                param.setSourceSubsampling(step, step, 0, 0);
                BufferedImage source = reader.read(0, param);
                double scale = Math.min(1.0, (double) size / Math.max(source.getWidth(), source.getHeight()));
                int w = Math.max(1, (int) Math.round(source.getWidth() * scale));
                int h = Math.max(1, (int) Math.round(source.getHeight() * scale));
                BufferedImage small = new BufferedImage(w, h, source.getColorModel().hasAlpha()
                        ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
                Graphics2D g = small.createGraphics();
                try {
                    g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
                    g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
                    g.drawImage(source, 0, 0, w, h, null);
                } finally {
                    g.dispose();
                }
                ByteArrayOutputStream png = new ByteArrayOutputStream();
                ImageIO.write(small, "png", png);
                return png.toByteArray();
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) { // a truncated or corrupt image fails in the reader
            throw new CannotThumbnail("its bytes could not be decoded as an image: " + e.getMessage());
        }
    }
}
