"""Image I/O: channel rules, refusals with one-line messages naming the path, listing."""
import numpy as np
import pytest
from PIL import Image

from jaxrestore.data import io
from jaxrestore.data.io import ImageReadError, list_images, read_image, write_image


@pytest.fixture
def gray_png(tmp_path):
    gray = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    path = tmp_path / "gray.png"
    Image.fromarray(gray, "L").save(path)
    return path, gray


def test_gray_reads_as_one_or_three_equal_channels(gray_png):
    path, gray = gray_png
    native = read_image(path)
    assert native.shape == (12, 10, 1) and native.dtype == np.uint8
    np.testing.assert_array_equal(native[..., 0], gray)
    rgb = read_image(path, channels=3)
    assert rgb.shape == (12, 10, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], gray)


def test_colour_to_gray(tmp_path):
    # Equal channels: that channel. Real colour: MATLAB rgb2gray, rounded half up.
    equal = np.repeat(np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5, 1), 3, axis=2)
    Image.fromarray(equal).save(tmp_path / "equal.png")
    np.testing.assert_array_equal(read_image(tmp_path / "equal.png", channels=1), equal[..., :1])
    colour = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]], np.uint8)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    # 0.298936 * 255 = 76.23, 0.587043 * 255 = 149.70, 0.114021 * 255 = 29.08,
    # 0.298936 * 10 + 0.587043 * 200 + 0.114021 * 30 = 2.989 + 117.409 + 3.421 = 123.82
    gray = read_image(tmp_path / "colour.png", channels=1)
    assert gray.shape == (1, 4, 1)
    np.testing.assert_array_equal(gray[0, :, 0], [76, 150, 29, 124])


def test_rgba_opaque_is_dropped_transparent_refused(tmp_path):
    rgba = np.full((4, 4, 4), 255, np.uint8)
    rgba[..., 0] = 7
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    out = read_image(tmp_path / "opaque.png")
    assert out.shape == (4, 4, 3) and out[0, 0].tolist() == [7, 255, 255]
    rgba[0, 0, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "see-through.png")
    with pytest.raises(ImageReadError) as error:
        read_image(tmp_path / "see-through.png")
    message = str(error.value)
    assert "see-through.png" in message and "transparency" in message and "\n" not in message


def test_palette_and_bilevel_are_expanded(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = [200, 10, 30]
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_image(tmp_path / "palette.png"), rgb)
    Image.fromarray(np.eye(4, dtype=bool)).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bits.png")[..., 0], np.eye(4) * 255)


def test_16_bit_is_refused(tmp_path):
    Image.fromarray(np.full((4, 4), 40000, np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(ImageReadError, match=r"deep\.png: .*16-bit"):
        read_image(tmp_path / "deep.png")


def test_missing_and_non_image_messages(tmp_path):
    with pytest.raises(ImageReadError, match=r"nowhere\.png: no such file"):
        read_image(tmp_path / "nowhere.png")
    (tmp_path / "notes.png").write_text("this is not a PNG")
    with pytest.raises(ImageReadError, match=r"notes\.png: not a readable image file"):
        read_image(tmp_path / "notes.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)
    assert issubclass(ImageReadError, ValueError)
    with pytest.raises(ValueError, match="channels"):
        read_image(tmp_path / "nowhere.png", channels=2)


def test_write_read_round_trip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    write_image(tmp_path / "sub" / "dir" / "x.png", rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "dir" / "x.png"), rgb)
    write_image(tmp_path / "g.png", rgb[..., :1])
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), rgb[..., :1])
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "f.png", rgb / 255.0)


def test_list_images_recursive_sorted_filtered(tmp_path):
    for name in ["b.png", "a.JPG", "sub/c.bmp", "sub/deeper/d.tif", "notes.txt", ".hidden.png"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == ["a.JPG", "b.png", "sub/c.bmp", "sub/deeper/d.tif"]
    assert list_images(tmp_path / "b.png") == [tmp_path / "b.png"]
    with pytest.raises(ImageReadError, match="notes.txt: not an image"):
        list_images(tmp_path / "notes.txt")
    with pytest.raises(ImageReadError, match="no such file"):
        list_images(tmp_path / "absent")


def test_reads_set14_bridge_as_three_equal_channels(shared_data):
    bridge = read_image(shared_data / "Set14" / "bridge.png", channels=3)
    assert bridge.shape[2] == 3 and bridge.dtype == np.uint8
    assert (bridge[..., 0] == bridge[..., 1]).all() and (bridge[..., 1] == bridge[..., 2]).all()
    assert read_image(shared_data / "Set14" / "bridge.png").shape[2] == 1


def test_cmyk_and_animated_files_are_refused_with_advice(tmp_path):
    Image.new("CMYK", (8, 8), (0, 50, 100, 0)).save(tmp_path / "print.jpg")
    with pytest.raises(ImageReadError, match=r"print\.jpg: is a CMYK image; .*convert it to "
                                             r"RGB first \(e\.g\. `convert IN -colorspace sRGB"):
        read_image(tmp_path / "print.jpg")
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "green", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match=r"anim\.gif: is an animated .* \(3 frames\)"):
        read_image(tmp_path / "anim.gif")
    frames[0].save(tmp_path / "still.gif")  # a single-frame GIF is an image like any other
    assert read_image(tmp_path / "still.gif")[0, 0].tolist() == [255, 0, 0]


def test_write_is_atomic_and_marks_restored_outputs(tmp_path, monkeypatch):
    rgb = np.full((4, 5, 3), 7, np.uint8)
    write_image(tmp_path / "plain.png", rgb)
    write_image(tmp_path / "marked.png", rgb, mark=True)
    assert not io.is_restored_output(tmp_path / "plain.png")
    assert io.is_restored_output(tmp_path / "marked.png")
    assert Image.open(tmp_path / "marked.png").info["jaxrestore"] == "restored"
    (tmp_path / "old.png").write_bytes(b"an earlier result")

    def full_disk(image, fp, *args, **kwargs):
        open(fp, "wb").write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="No space left") as error:
        write_image(tmp_path / "old.png", rgb)
    assert error.value.filename == str(tmp_path / "old.png")
    assert (tmp_path / "old.png").read_bytes() == b"an earlier result"  # not half replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marked.png", "old.png", "plain.png"]
