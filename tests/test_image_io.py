"""fer.vision.image_io: every source type and colour mode -> RGB uint8, and clear refusals of bad
input."""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile
from skimage import data as skdata

from fer.errors import FerError, ImageLoadError
from fer.vision import image_io
from fer.vision.image_io import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    image_to_png_bytes,
    list_images,
    load_image,
)


@pytest.fixture(autouse=True)
def _no_env_limit(monkeypatch):
    monkeypatch.delenv("FER_MAX_PIXELS", raising=False)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _assert_rgb_uint8(arr: np.ndarray, height: int, width: int) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (height, width, 3)
    assert arr.flags.c_contiguous


# ------------------------------------------------------------------------------ source types


def test_path_str_and_pathlike_load_exact_pixels(tmp_path, astronaut):
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    for source in (path, str(path)):
        arr = load_image(source)
        _assert_rgb_uint8(arr, 512, 512)
        np.testing.assert_array_equal(arr, astronaut)


def test_bytes_bytearray_memoryview(astronaut):
    png = _encode(Image.fromarray(astronaut), "PNG")
    for source in (png, bytearray(png), memoryview(png)):
        np.testing.assert_array_equal(load_image(source), astronaut)


def test_file_like_is_read_from_the_start_and_its_name_used(astronaut):
    class Upload(io.BytesIO):  # stands in for streamlit's UploadedFile (a BytesIO with .name)
        name = "selfie.png"

    upload = Upload(_encode(Image.fromarray(astronaut), "PNG"))
    upload.read()  # already consumed once, e.g. by a preview
    np.testing.assert_array_equal(load_image(upload), astronaut)

    bad = Upload(b"definitely not pixels")
    with pytest.raises(ImageLoadError, match="selfie.png"):
        load_image(bad)


def test_open_binary_file_object(tmp_path, astronaut):
    path = tmp_path / "a.jpg"
    Image.fromarray(astronaut).save(path, quality=95)
    with open(path, "rb") as handle:
        arr = load_image(handle)
    _assert_rgb_uint8(arr, 512, 512)
    assert np.abs(arr.astype(int) - astronaut).mean() < 5


def test_pil_image_input_rgb_and_gray(astronaut):
    np.testing.assert_array_equal(load_image(Image.fromarray(astronaut)), astronaut)
    gray = load_image(Image.new("L", (7, 5), 99))
    _assert_rgb_uint8(gray, 5, 7)
    assert (gray == 99).all()


def test_unsupported_source_type_is_a_type_error():
    with pytest.raises(TypeError):
        load_image(12345)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ numpy input


def test_numpy_gray_and_rgb_copy():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = load_image(gray)
    _assert_rgb_uint8(out, 3, 4)
    assert (out == gray[:, :, None]).all()

    rgb = np.zeros((3, 4, 3), dtype=np.uint8)
    out = load_image(rgb)
    out[0, 0] = 255
    assert rgb[0, 0, 0] == 0  # the caller's array is not aliased

    single = load_image(gray[:, :, None])
    np.testing.assert_array_equal(single, load_image(gray))


def test_numpy_non_contiguous_rgb_gives_contiguous_result(astronaut):
    view = astronaut[::2, ::-1]
    out = load_image(view)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, view)


def test_numpy_rgba_composited_over_white():
    rgba = np.array([[[10, 20, 30, 255], [0, 0, 0, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    out = load_image(rgba)
    assert out[0, 0].tolist() == [10, 20, 30]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 2].tolist() == [127, 127, 127]


def test_numpy_uint16_scaled_not_clipped():
    arr = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    assert load_image(arr)[0, :, 0].tolist() == [0, 1, 128, 255]


def test_numpy_float_unit_range():
    arr = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    assert load_image(arr)[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize(
    "array, fragment",
    [
        (np.array([[0.0, 2.0]]), "[0, 1]"),
        (np.array([[np.nan, 0.5]]), "NaN"),
        (np.zeros((4, 4), dtype=np.int64), "int64"),
        (np.zeros((4, 4), dtype=bool), "bool"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "shape"),
        (np.zeros((2, 4, 4, 3), dtype=np.uint8), "shape"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "empty"),
    ],
)
def test_numpy_bad_input_refused(array, fragment):
    with pytest.raises(ImageLoadError, match="frame") as info:
        load_image(array, name="frame")
    assert fragment in str(info.value)


# ------------------------------------------------------------------------------ orientation


def _sideways_image() -> Image.Image:
    """40x20 (wide), left half red, right half blue."""
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))
    return img


def test_exif_orientation_6_is_applied(tmp_path):
    img = _sideways_image()
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif, quality=95)

    arr = load_image(path)
    _assert_rgb_uint8(arr, 40, 20)  # now tall
    top, bottom = arr[5, 10], arr[35, 10]
    assert top[0] > 200 and top[2] < 60  # the left (red) half is now on top
    assert bottom[2] > 200 and bottom[0] < 60

    # the same via bytes and an opened PIL image
    assert load_image(path.read_bytes()).shape == (40, 20, 3)
    with Image.open(path) as opened:
        assert load_image(opened).shape == (40, 20, 3)


def test_no_exif_keeps_orientation(tmp_path):
    path = tmp_path / "plain.png"
    _sideways_image().save(path)
    assert load_image(path).shape == (20, 40, 3)


# ------------------------------------------------------------------------------ colour modes


def test_rgba_png_transparent_pixel_becomes_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (200, 10, 10, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    path = tmp_path / "logo.png"
    rgba.save(path)
    arr = load_image(path)
    assert arr[0, 0].tolist() == [255, 255, 255]
    assert arr[1, 1].tolist() == [200, 10, 10]


def test_la_png_over_white():
    la = Image.new("LA", (2, 1), (0, 255))
    la.putpixel((1, 0), (0, 0))
    arr = load_image(_encode(la, "PNG"))
    assert arr[0, 0].tolist() == [0, 0, 0]
    assert arr[0, 1].tolist() == [255, 255, 255]


def test_palette_with_transparency_index():
    pal = Image.new("P", (3, 1))
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    for x, index in enumerate((0, 1, 2)):
        pal.putpixel((x, 0), index)
    data = _encode(pal, "PNG", transparency=0)
    assert Image.open(io.BytesIO(data)).mode == "P"
    arr = load_image(data)
    assert arr[0].tolist() == [[255, 255, 255], [255, 0, 0], [0, 255, 0]]


def test_palette_without_transparency():
    pal = Image.new("RGB", (4, 4), (0, 128, 255)).convert("P", palette=Image.Palette.ADAPTIVE)
    arr = load_image(_encode(pal, "PNG"))
    assert arr[0, 0].tolist() == [0, 128, 255]


def test_gray_png_with_trns_key_is_white():
    gray = Image.new("L", (2, 1), 0)
    gray.putpixel((1, 0), 100)
    arr = load_image(_encode(gray, "PNG", transparency=0))
    assert arr[0].tolist() == [[255, 255, 255], [100, 100, 100]]


def test_16bit_png_gradient_scaled_monotonic(tmp_path):
    gradient = np.linspace(0, 65535, 64 * 64).round().astype(np.uint16).reshape(64, 64)
    path = tmp_path / "depth.png"
    Image.fromarray(gradient).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really a 16-bit file
    arr = load_image(path)
    values = arr[:, :, 0].ravel().astype(int)
    assert (arr[:, :, 0] == arr[:, :, 2]).all()
    assert values[0] == 0 and values.max() == 255
    assert (np.diff(values) >= 0).all()
    assert 120 <= values[len(values) // 2] <= 135  # clipping would make the middle 255


def test_cmyk_jpeg_keeps_colour():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red
    data = _encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    r, g, b = load_image(data)[8, 8].tolist()
    assert r > 200 and g < 60 and b < 60


def test_one_bit_image():
    img = Image.new("1", (4, 2), 0)
    img.putpixel((1, 0), 1)
    arr = load_image(_encode(img, "PNG"))
    assert arr[0, 1].tolist() == [255, 255, 255]
    assert arr[0, 0].tolist() == [0, 0, 0]
    assert set(np.unique(arr).tolist()) == {0, 255}


def test_float_tiff_unit_range_and_other_range(tmp_path):
    unit = np.linspace(0.0, 1.0, 11, dtype=np.float32).reshape(1, 11)
    path = tmp_path / "unit.tif"
    Image.fromarray(unit).save(path)
    with Image.open(path) as check:
        assert check.mode == "F"
    out = load_image(path)[0, :, 0].astype(int)
    assert out[0] == 0 and out[-1] == 255 and out[5] in (127, 128)

    wide = np.linspace(-1000.0, 5000.0, 7, dtype=np.float32).reshape(1, 7)
    path = tmp_path / "wide.tif"
    Image.fromarray(wide).save(path)
    out = load_image(path)[0, :, 0].astype(int)
    assert out[0] == 0 and out[-1] == 255 and (np.diff(out) > 0).all()


def test_multi_frame_gif_gives_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 2
    r, g, b = load_image(buffer.getvalue())[4, 4].tolist()
    assert r > 200 and b < 60


def test_multi_page_tiff_gives_first_page():
    pages = [Image.new("RGB", (6, 6), (0, 255, 0)), Image.new("RGB", (9, 9), (255, 0, 0))]
    data = _encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    arr = load_image(data)
    assert arr.shape == (6, 6, 3)
    assert arr[0, 0].tolist() == [0, 255, 0]


@pytest.mark.parametrize(
    "suffix, kwargs",
    [
        (".webp", {"lossless": True}),
        (".bmp", {}),
        (".tiff", {}),
        (".tif", {}),
        (".jpeg", {"quality": 95}),
    ],
)
def test_common_formats_round_trip(tmp_path, astronaut, suffix, kwargs):
    crop = astronaut[:96, :128]
    path = tmp_path / f"face{suffix}"
    Image.fromarray(crop).save(path, **kwargs)
    arr = load_image(path)
    _assert_rgb_uint8(arr, 96, 128)
    assert np.abs(arr.astype(int) - crop).mean() < (6 if suffix == ".jpeg" else 0.5)


# ------------------------------------------------------------------------------ refusals


def test_text_file_renamed_jpg(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_text("hello, I am a shopping list\n" * 20)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(info.value) == "photo.jpg is not an image file (or its format is not supported)"
    assert isinstance(info.value, FerError)


def test_zero_byte_file_and_empty_bytes(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"^photo\.jpg is empty \(0 bytes\)$"):
        load_image(path)
    with pytest.raises(ImageLoadError, match=r"upload\.png is empty"):
        load_image(b"", name="upload.png")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(io.BytesIO())


def test_truncated_jpeg(tmp_path, astronaut):
    full = _encode(Image.fromarray(astronaut), "JPEG", quality=90)
    path = tmp_path / "photo.jpg"
    path.write_bytes(full[: len(full) // 2])
    # the header alone parses fine: only a full decode notices the missing half
    with Image.open(path) as lazy:
        assert lazy.size == (512, 512)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(info.value) == "photo.jpg is truncated or corrupt"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_png():
    full = _encode(Image.fromarray(skdata.astronaut()), "PNG")
    with pytest.raises(ImageLoadError, match=r"shot\.png is truncated or corrupt"):
        load_image(full[: len(full) // 2], name="shot.png")


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="does not exist") as info:
        load_image(tmp_path / "nope.jpg")
    assert "nope.jpg" in str(info.value)
    with pytest.raises(ImageLoadError, match=r"^nope\.jpg does not exist$"):
        load_image(tmp_path / "x.bin", name="nope.jpg")
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def _count_decodes(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        calls.append(self.format)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


def test_too_many_pixels_via_env_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "poster.png"
    Image.new("1", (3000, 2000)).save(path)
    monkeypatch.setenv("FER_MAX_PIXELS", "1000000")
    calls = _count_decodes(monkeypatch)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(info.value) == "poster.png is 3000x2000 pixels; the limit is 1 megapixel"
    assert calls == []  # refused from the header alone

    monkeypatch.setenv("FER_MAX_PIXELS", "6000000")
    assert load_image(path).shape == (2000, 3000, 3)
    assert calls and set(calls) == {"PNG"}  # the spy does see a real decode


def test_too_many_pixels_via_module_attribute(monkeypatch):
    monkeypatch.setattr(image_io, "MAX_PIXELS", 500)
    with pytest.raises(ImageLoadError, match=r"^image is 30x20 pixels; the limit is 500 pixels$"):
        load_image(np.zeros((20, 30), dtype=np.uint8))
    with pytest.raises(ImageLoadError, match="the limit is 500 pixels"):
        load_image(Image.new("RGB", (30, 20)))
    assert load_image(np.zeros((20, 25), dtype=np.uint8)).shape == (
        20,
        25,
        3,
    )  # exactly at the limit


def test_huge_png_header_refused_quickly_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 megapixels, tiny on disk
    assert path.stat().st_size < 1_000_000
    calls = _count_decodes(monkeypatch)
    before = Image.MAX_IMAGE_PIXELS
    start = time.perf_counter()
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert time.perf_counter() - start < 5.0  # decoding 400 MP would take far longer
    message = str(info.value)
    assert message.startswith("bomb.png is ") and "the limit is 50 megapixels" in message
    assert calls == []
    assert Image.MAX_IMAGE_PIXELS == before  # global Pillow state untouched


def test_between_our_limit_and_pillows_warning(tmp_path, monkeypatch):
    # 9000x9000 = 81 megapixels: above our default 50, below Pillow's own warning threshold
    path = tmp_path / "big.png"
    Image.new("1", (9000, 9000)).save(path)
    calls = _count_decodes(monkeypatch)
    with pytest.raises(
        ImageLoadError, match=r"^big\.png is 9000x9000 pixels; the limit is 50 megapixels$"
    ):
        load_image(path)
    assert calls == []


def test_pillow_bomb_warning_becomes_error_only_locally(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (10000, 10000)).save(path)  # 100 MP: Pillow warns (not errors) on open
    filters_before = list(warnings.filters)
    with pytest.raises(ImageLoadError, match="the limit is 50 megapixels"):
        load_image(path)
    assert warnings.filters == filters_before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Image.open(path):
            pass
    assert any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught)


def test_invalid_env_limit(monkeypatch):
    monkeypatch.setenv("FER_MAX_PIXELS", "lots")
    with pytest.raises(ImageLoadError, match="FER_MAX_PIXELS"):
        load_image(np.zeros((2, 2), dtype=np.uint8))


def test_max_pixels_default():
    assert MAX_PIXELS == 50_000_000
    assert image_io.max_pixels() == 50_000_000


# ------------------------------------------------------------------------------ helpers


def test_png_bytes_round_trip(astronaut):
    png = image_to_png_bytes(astronaut)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    np.testing.assert_array_equal(load_image(png), astronaut)
    with pytest.raises(ValueError):
        image_to_png_bytes(astronaut.astype(np.float32))


def test_list_images(tmp_path):
    for name in (
        "b.JPG",
        "a.png",
        "c.jpeg",
        "d.WebP",
        "e.bmp",
        "f.tif",
        "g.TIFF",
        "notes.txt",
        "h.gif",
        ".hidden.jpg",
        "noext",
    ):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.jpg").write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()  # a directory with an image-like name
    names = [p.name for p in list_images(tmp_path)]
    assert names == ["a.png", "b.JPG", "c.jpeg", "d.WebP", "e.bmp", "f.tif", "g.TIFF"]
    assert set(IMAGE_EXTENSIONS) == {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}

    with pytest.raises(ImageLoadError, match="does not exist"):
        list_images(tmp_path / "missing")
    with pytest.raises(ImageLoadError, match="not a folder"):
        list_images(tmp_path / "a.png")


def test_shrink_to_side_keeps_the_aspect_and_never_enlarges():
    wide = np.zeros((300, 1200, 3), np.uint8)
    small, scale = image_io.shrink_to_side(wide, 400)
    assert small.shape == (100, 400, 3) and scale == pytest.approx(1 / 3)
    same, scale = image_io.shrink_to_side(wide, 1200)
    assert same is wide and scale == 1.0
    tall = np.zeros((1000, 3, 3), np.uint8)  # a side never rounds to 0
    assert image_io.shrink_to_side(tall, 100)[0].shape == (100, 1, 3)


def test_annotated_photo_path_takes_every_image_extension(tmp_path):
    from pathlib import Path

    from fer.jobs.inputs import annotated_photo_path

    photo = Path("in/photo.jpg")
    for name in ("one.png", "one.JPEG", "one.tiff", "one.webp"):
        assert annotated_photo_path(tmp_path / name, photo, 1) == tmp_path / name
    # several inputs, or a name that is not an image's: a folder of <stem>_annotated.png
    assert (
        annotated_photo_path(tmp_path / "one.png", photo, 2)
        == tmp_path / "one.png" / "photo_annotated.png"
    )
    assert (
        annotated_photo_path(tmp_path / "out", photo, 1) == tmp_path / "out" / "photo_annotated.png"
    )
    assert (tmp_path / "out").is_dir()
