"""Japanese names of the 80 COCO object categories, so prompts can name objects in Japanese.

The English name stays beside the Japanese one in the prompt (``バス (bus)``): the model sees both,
and a category missing here simply shows in English.
"""

from __future__ import annotations

COCO_JA: dict[str, str] = {
    "person": "人", "bicycle": "自転車", "car": "車", "motorcycle": "オートバイ", "airplane": "飛行機",
    "bus": "バス", "train": "電車", "truck": "トラック", "boat": "ボート", "traffic light": "信号機",
    "fire hydrant": "消火栓", "stop sign": "一時停止の標識", "parking meter": "パーキングメーター",
    "bench": "ベンチ", "bird": "鳥", "cat": "猫", "dog": "犬", "horse": "馬", "sheep": "羊", "cow": "牛",
    "elephant": "象", "bear": "熊", "zebra": "シマウマ", "giraffe": "キリン", "backpack": "リュックサック",
    "umbrella": "傘", "handbag": "ハンドバッグ", "tie": "ネクタイ", "suitcase": "スーツケース",
    "frisbee": "フリスビー", "skis": "スキー板", "snowboard": "スノーボード", "sports ball": "ボール",
    "kite": "凧", "baseball bat": "野球のバット", "baseball glove": "野球のグローブ",
    "skateboard": "スケートボード", "surfboard": "サーフボード", "tennis racket": "テニスラケット",
    "bottle": "瓶", "wine glass": "ワイングラス", "cup": "カップ", "fork": "フォーク", "knife": "ナイフ",
    "spoon": "スプーン", "bowl": "ボウル", "banana": "バナナ", "apple": "リンゴ", "sandwich": "サンドイッチ",
    "orange": "オレンジ", "broccoli": "ブロッコリー", "carrot": "ニンジン", "hot dog": "ホットドッグ",
    "pizza": "ピザ", "donut": "ドーナツ", "cake": "ケーキ", "chair": "椅子", "couch": "ソファ",
    "potted plant": "鉢植えの植物", "bed": "ベッド", "dining table": "テーブル", "toilet": "トイレ",
    "tv": "テレビ", "laptop": "ノートパソコン", "mouse": "マウス", "remote": "リモコン",
    "keyboard": "キーボード", "cell phone": "携帯電話", "microwave": "電子レンジ", "oven": "オーブン",
    "toaster": "トースター", "sink": "流し台", "refrigerator": "冷蔵庫", "book": "本", "clock": "時計",
    "vase": "花瓶", "scissors": "はさみ", "teddy bear": "テディベア", "hair drier": "ヘアドライヤー",
    "toothbrush": "歯ブラシ",
}


def ja_name(category: str) -> str:
    """``バス (bus)`` for a known category, the English name otherwise."""
    ja = COCO_JA.get(category.strip().lower())
    return f"{ja} ({category})" if ja else category
