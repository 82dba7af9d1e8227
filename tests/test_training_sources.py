"""Source adapters: small samples in each source's documented layout → the project's schemas."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from dataset_builders.schema import SCHEMAS
from training.data.render import Renderer
from training.data.shards import expand_shards, iter_samples
from training.sources import ADAPTERS, write_samples


def _jpeg(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), colour).save(buf, format="JPEG")
    return buf.getvalue()


def _roundtrip(samples, schema, out):
    counts = write_samples(samples, out, schema)
    return counts, list(iter_samples(expand_shards(out)))


def test_llava_pretrain_gives_pairs_with_the_caption(tmp_path):
    (tmp_path / "images" / "00453").mkdir(parents=True)
    (tmp_path / "images" / "00453" / "004539375.jpg").write_bytes(_jpeg())
    records = [
        {"id": "004539375", "image": "00453/004539375.jpg", "conversations": [
            {"from": "human", "value": "Render a clear and concise summary of the photo.\n<image>"},
            {"from": "gpt", "value": "赤いソファのある部屋"}]},
        {"id": "missing", "image": "00000/none.jpg", "conversations": [
            {"from": "human", "value": "<image>"}, {"from": "gpt", "value": "x"}]},
    ]
    (tmp_path / "blip_laion_cc_sbu_558k.json").write_text(json.dumps(records, ensure_ascii=False))
    schema, adapter = ADAPTERS["llava-pretrain"]
    counts, rows = _roundtrip(adapter(tmp_path / "blip_laion_cc_sbu_558k.json", tmp_path / "images"), schema, tmp_path / "out")
    assert schema == "pairs" and counts["written"] == 1
    assert rows[0]["txt"] == "赤いソファのある部屋" and rows[0]["json"]["source_url"] == "00453/004539375.jpg"


def test_llava_instruct_moves_image_to_the_front_and_maps_roles(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "000000033471.jpg").write_bytes(_jpeg())
    records = [{"id": "000000033471", "image": "000000033471.jpg", "conversations": [
        {"from": "human", "value": "バスは何色ですか？\n<image>"},
        {"from": "gpt", "value": "白と赤です。"},
        {"from": "human", "value": "何台ありますか？"},
        {"from": "gpt", "value": "一台です。"}]},
        {"id": "text-only", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]
    (tmp_path / "llava_instruct_150k.json").write_text(json.dumps(records, ensure_ascii=False))
    schema, adapter = ADAPTERS["llava-instruct"]
    counts, rows = _roundtrip(adapter(tmp_path / "llava_instruct_150k.json", tmp_path / "img"), schema, tmp_path / "out")
    assert counts["written"] == 1
    turns = rows[0]["json"]["conversations"]
    assert turns[0] == {"role": "user", "content": "<image>\nバスは何色ですか？"}
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]


def test_mmc4_documents_keep_five_best_images_after_their_sentences(tmp_path):
    (tmp_path / "images").mkdir()
    infos = []
    for i in range(7):
        (tmp_path / "images" / f"img{i}.jpg").write_bytes(_jpeg((30 * i, 0, 0)))
        infos.append({"image_name": f"img{i}.jpg", "raw_url": f"https://e.jp/{i}.jpg",
                      "matched_text_index": i % 4, "matched_sim": 0.2 + 0.01 * i})
    infos.append({"image_name": "gone.jpg", "raw_url": "https://e.jp/gone.jpg", "matched_text_index": 0, "matched_sim": 0.99})
    doc = {"url": "https://e.jp/page", "text_list": ["一。", "二。", "三。", "四。"], "image_info": infos,
           "similarity_matrix": [[0.2] * 4] * 7}
    (tmp_path / "docs_shard_0_v3.jsonl").write_text(json.dumps(doc, ensure_ascii=False) + "\n{broken\n")
    schema, adapter = ADAPTERS["mmc4-core"]
    counts, rows = _roundtrip(adapter(tmp_path / "docs_shard_0_v3.jsonl", tmp_path / "images"), schema, tmp_path / "out")
    assert schema == "interleaved" and counts["written"] == 1
    meta = rows[0]["json"]
    # the 5 highest-similarity existing images are img2..img6; positions in document order
    assert sorted(meta["image_urls"]) == sorted(f"https://e.jp/{i}.jpg" for i in range(2, 7))
    assert meta["image_positions"] == sorted(meta["image_positions"]) and len(meta["image_positions"]) == 5
    assert all(f"{i}.jpg" in rows[0] for i in range(5))


def test_coyo_img2dataset_files_become_pairs(tmp_path):
    shard = tmp_path / "00000"
    shard.mkdir()
    (shard / "000000000.jpg").write_bytes(_jpeg())
    (shard / "000000000.txt").write_text("夕焼けの海")
    (shard / "000000000.json").write_text(json.dumps({"key": "000000000", "url": "https://e.jp/a.jpg", "status": "success",
                                                      "width": 24, "height": 24}))
    (shard / "000000001.txt").write_text("no image downloaded")
    schema, adapter = ADAPTERS["coyo"]
    counts, rows = _roundtrip(adapter(tmp_path), schema, tmp_path / "out")
    assert counts["written"] == 1 and rows[0]["txt"] == "夕焼けの海" and rows[0]["json"]["url"] == "https://e.jp/a.jpg"


def test_ja_vg_vqa_groups_qas_of_an_image_into_conversations(tmp_path):
    (tmp_path / "VG_100K").mkdir()
    (tmp_path / "VG_100K" / "1.jpg").write_bytes(_jpeg())
    qas = [{"qa_id": k, "image_id": 1, "question": f"質問{k}？", "answer": f"答え{k}"} for k in range(3)]
    (tmp_path / "question_answers.json").write_text(json.dumps([{"id": 1, "qas": qas}], ensure_ascii=False))
    schema, adapter = ADAPTERS["ja-vg-vqa"]
    counts, rows = _roundtrip(adapter(tmp_path / "question_answers.json", tmp_path / "VG_100K", max_turns=2),
                              schema, tmp_path / "out")
    assert counts["written"] == 2  # 3 QAs, at most 2 per conversation
    convs = sorted((r["json"]["conversations"] for r in rows), key=len, reverse=True)
    assert convs[0][0]["content"] == "<image>\n質問0？" and convs[0][3]["content"] == "答え1"
    assert convs[1][0]["content"] == "<image>\n質問2？"


def test_synthdog_ja_rows_and_parquet_become_ocr_conversations(tmp_path):
    rows = [{"image": {"bytes": _jpeg(), "path": None},
             "ground_truth": json.dumps({"gt_parse": {"text_sequence": "東京都千代田区"}}, ensure_ascii=False)},
            {"image": {"bytes": _jpeg()}, "ground_truth": "not json"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train-00000.parquet")
    schema, adapter = ADAPTERS["synthdog-ja"]
    for source in (rows, tmp_path / "train-00000.parquet"):
        out = tmp_path / f"out-{type(source).__name__}"
        counts, written = _roundtrip(adapter(source), schema, out)
        assert counts["written"] == 1
        assert written[0]["json"]["conversations"][1]["content"] == "東京都千代田区"


def test_every_adapter_output_renders_for_training(tmp_path):
    from dataset_builders.tiny.models import tiny_llava

    _, processor = tiny_llava()
    renderer = Renderer(processor.tokenizer, 4, 512)
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(_jpeg())
    records = [{"id": "a", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\n何？"},
                                                                {"from": "gpt", "value": "猫。"}]}]
    (tmp_path / "r.json").write_text(json.dumps(records, ensure_ascii=False))
    for name in ("llava-pretrain", "llava-instruct"):
        schema, adapter = ADAPTERS[name]
        write_samples(adapter(tmp_path / "r.json", tmp_path / "img"), tmp_path / name, schema)
        (row,) = [renderer.render(s) for s in iter_samples(expand_shards(tmp_path / name))]
        assert row.kind == SCHEMAS[schema].name and len(row.images) == 1
