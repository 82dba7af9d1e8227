"""ja-pairs: Japanese image / alt-text pairs, COYO-style (LLM-jp-3 VILA §3 画像・テキスト対データ)."""
