"""Interface text in English and Chinese, and how a visitor's language is chosen.

Chosen by `?lang=` (remembered in a cookie), else the cookie, else the browser's Accept-Language, else English.
"""

from __future__ import annotations

from collections.abc import Iterable

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
COOKIE_NAME = "lang"

# key → {language: text}. Placeholders use str.format names.
MESSAGES: dict[str, dict[str, str]] = {
    "app_title": {"en": "Image search", "zh": "图片搜索"},
    "search_placeholder": {"en": "Describe the image you want, in any language",
                           "zh": "用任何语言描述你想找的图片"},
    "search_button": {"en": "Search", "zh": "搜索"},
    "mode_label": {"en": "How to match", "zh": "匹配方式"},
    "region_hint": {"en": "Drag over a part of the picture to search by that part", "zh": "在图上拖出一块区域，按这部分搜索"},
    "mode_option_semantic": {"en": "By meaning", "zh": "按语义"},
    "mode_option_hybrid": {"en": "Meaning and words (titles, tags, text in images)", "zh": "语义与词语（标题、标签、图中文字）"},
    "mode_option_text": {"en": "Words in the image first", "zh": "图中文字优先"},
    "upload_label": {"en": "Search with an image", "zh": "以图搜图"},
    "upload_button": {"en": "Choose an image", "zh": "选择图片"},
    "upload_drop": {"en": "or drop an image here", "zh": "或将图片拖放到这里"},
    "upload_submit": {"en": "Search with this image", "zh": "用这张图片搜索"},
    "filters": {"en": "Filters", "zh": "筛选"},
    "range_from": {"en": "From", "zh": "从"},
    "range_to": {"en": "To", "zh": "到"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "min_similarity": {"en": "Minimum similarity (-1 to 1)", "zh": "最低相似度（-1 到 1）"},
    "apply_filters": {"en": "Apply filters", "zh": "应用筛选"},
    "clear_filters": {"en": "Clear filters", "zh": "清除筛选"},
    "no_values": {"en": "none yet", "zh": "暂无"},
    "matching": {"en": "{count} images pass the filters", "zh": "{count} 张图片符合筛选条件"},
    "results_text": {"en": "Results for “{text}”", "zh": "“{text}”的搜索结果"},
    "results_image": {"en": "Images like yours", "zh": "与你的图片相似的图片"},
    "results_similar": {"en": "Images similar to this one", "zh": "与此图片相似的图片"},
    "results_vector": {"en": "Images like yours", "zh": "与你的图片相似的图片"},
    "results_compound": {"en": "Images for your combined query", "zh": "组合查询的结果"},
    "query_parts": {"en": "Parts of this query", "zh": "本次查询的组成部分"},
    "part_more": {"en": "more like this", "zh": "更像这个"},
    "part_less": {"en": "less like this", "zh": "不要像这个"},
    "part_vector": {"en": "your image", "zh": "你的图片"},
    "remove_part": {"en": "Remove from the query", "zh": "从查询中移除"},
    "more_like_this": {"en": "More like this", "zh": "多来点这样的"},
    "less_like_this": {"en": "Less like this", "zh": "少来点这样的"},
    "sort_label": {"en": "Order the good matches by:", "zh": "好的匹配按以下方式排序："},
    "sort_relevance": {"en": "relevance", "zh": "相关度"},
    "sort_boosted": {"en": "best match with boosts", "zh": "最佳匹配（含加权）"},
    "collections": {"en": "Collections", "zh": "图库"},
    "api_key": {"en": "API key", "zh": "API 密钥"},
    "use_key": {"en": "Use this key", "zh": "使用此密钥"},
    "forget_key": {"en": "Forget my key", "zh": "忘记我的密钥"},
    "collection_default": {"en": "Main", "zh": "主图库"},
    "understood": {"en": "Understood in your words", "zh": "从您的输入中识别出"},
    "understood_remove": {"en": "Read these words as words", "zh": "按原文搜索这些词"},
    "search_literally": {"en": "Search my words literally", "zh": "按字面搜索我的输入"},
    "understand_again": {"en": "Understand dates and names in my words", "zh": "识别输入中的日期和名称"},
    "sort_date": {"en": "date", "zh": "日期"},
    "sort_size": {"en": "size", "zh": "尺寸"},
    "no_good_match": {"en": "Nothing here is a good match for this query: no image stands out from the rest. "
                            "These are only the closest images.",
                      "zh": "没有与此查询真正匹配的图片：没有哪张图片明显突出。以下只是最接近的图片。"},
    "more_results": {"en": "Good matches above ({count}) · more results below",
                     "zh": "以上为好的匹配（{count}）· 以下为更多结果"},
    "why_title": {"en": "Why this image matched", "zh": "为什么匹配到这张图片"},
    "why_total": {"en": "Similarity to the whole query: {similarity}", "zh": "与整个查询的相似度：{similarity}"},
    "why_part": {"en": "Part", "zh": "部分"},
    "why_weight": {"en": "Weight", "zh": "权重"},
    "why_keywords": {"en": "Keywords matched", "zh": "匹配的关键词"},
    "why_no_keywords": {"en": "none (found by meaning only)", "zh": "无（仅按语义找到）"},
    "back_to_results": {"en": "Back to the results", "zh": "返回搜索结果"},
    "results_browse": {"en": "Newest images", "zh": "最新图片"},
    "mode_hybrid": {"en": "meaning and keywords", "zh": "语义与关键词"},
    "mode_text": {"en": "words in the image first", "zh": "图中文字优先"},
    "took": {"en": "{ms} ms", "zh": "{ms} 毫秒"},
    "no_results": {"en": "No images match. Try other words or fewer filters.",
                   "zh": "没有匹配的图片。请换个说法或减少筛选条件。"},
    "similarity": {"en": "similarity", "zh": "相似度"},
    "rrf_score": {"en": "fused rank score", "zh": "融合排序分"},
    "find_similar": {"en": "Find similar", "zh": "查找相似"},
    "previous": {"en": "Previous", "zh": "上一页"},
    "next": {"en": "Next", "zh": "下一页"},
    "page_of": {"en": "Page {page}", "zh": "第 {page} 页"},
    "image_details": {"en": "Details", "zh": "详细信息"},
    "colors": {"en": "Colours", "zh": "颜色"},
    "similar_images": {"en": "Most similar images", "zh": "最相似的图片"},
    "open_original": {"en": "Open the original", "zh": "打开原图"},
    "original_not_served": {"en": "The original is not served (its folder is not in IMGSEARCH_IMAGE_ROOTS); "
                                  "this is the thumbnail.",
                            "zh": "原图未提供（其所在文件夹不在 IMGSEARCH_IMAGE_ROOTS 中）；此为缩略图。"},
    "field_size": {"en": "Size", "zh": "尺寸"},
    "field_paths": {"en": "Location", "zh": "位置"},
    "field_id": {"en": "Id (sha256)", "zh": "编号（sha256）"},
    "color_warm": {"en": "warm", "zh": "暖色"},
    "color_cool": {"en": "cool", "zh": "冷色"},
    "color_neutral": {"en": "neutral", "zh": "中性"},
    "language": {"en": "Language", "zh": "语言"},
    "duplicates": {"en": "Duplicates", "zh": "近似重复"},
    "duplicates_title": {"en": "Near-duplicate groups", "zh": "近似重复图片组"},
    "duplicates_count": {"en": "{count} groups", "zh": "{count} 个组"},
    "duplicates_none": {"en": "No near-duplicates found yet. Run `imgsearch duplicates` to group the collection.",
                        "zh": "尚未发现近似重复。请运行 `imgsearch duplicates` 对图库分组。"},
    "duplicates_group": {"en": "{count} images", "zh": "{count} 张图片"},
    "duplicates_of_image": {"en": "Near-duplicates of this image ({count})", "zh": "此图片的近似重复（{count}）"},
    "representative": {"en": "kept (representative)", "zh": "保留（代表）"},
    "similarity_to_representative": {"en": "similarity to the representative", "zh": "与代表图片的相似度"},
    "date": {"en": "Date", "zh": "日期"},
    "one_per_group_label": {"en": "One image per near-duplicate group", "zh": "每组近似重复只显示一张"},
    "api_docs": {"en": "JSON API (OpenAPI)", "zh": "JSON 接口（OpenAPI）"},
    "recommended_next": {"en": "Recommended next", "zh": "接下来推荐"},
    "review": {"en": "Review", "zh": "审核"},
    "review_title": {"en": "Watchlist review", "zh": "监控名单审核"},
    "review_intro": {"en": "Images a watchlist flagged or holds, beside the reference they matched. A held image is "
                           "in no search until it is released. Reviewing needs a write key.",
                     "zh": "被监控名单标记或扣留的图片，旁边是其匹配的参考图。被扣留的图片在放行前不会出现在任何搜索中。"
                           "审核需要写入密钥。"},
    "review_all": {"en": "Held and flagged", "zh": "扣留和标记"},
    "review_held": {"en": "Held", "zh": "已扣留"},
    "review_flagged": {"en": "Flagged", "zh": "已标记"},
    "review_show": {"en": "Show", "zh": "显示"},
    "review_none": {"en": "Nothing to review.", "zh": "没有待审核的图片。"},
    "review_release": {"en": "Release", "zh": "放行"},
    "review_delete": {"en": "Delete", "zh": "删除"},
    "review_delete_confirm": {"en": "Delete this image from the index?", "zh": "从索引中删除这张图片？"},
    "review_reference": {"en": "Reference", "zh": "参考图"},
    "review_prompt": {"en": "Prompt", "zh": "提示词"},
    "review_similarity": {"en": "similarity", "zh": "相似度"},
    "review_distance": {"en": "hash distance", "zh": "哈希距离"},
    "review_total": {"en": "To review: {count}", "zh": "待审核：{count}"},
    "error_title": {"en": "Something is not right", "zh": "出了点问题"},
    "back_to_search": {"en": "Back to search", "zh": "返回搜索"},
    "not_found": {"en": "No such page or image.", "zh": "没有这个页面或图片。"},
    "nothing_indexed": {"en": "No images are indexed yet. Run `imgsearch ingest DIR` (or `make run`) first.",
                        "zh": "还没有索引任何图片。请先运行 `imgsearch ingest DIR`（或 `make run`）。"},
    "people": {"en": "People", "zh": "人物"},
    "people_title": {"en": "People", "zh": "人物"},
    "people_count": {"en": "{count} people", "zh": "{count} 位人物"},
    "people_none": {"en": "No people yet. Faces are found when images are ingested with IMGSEARCH_FACES=on "
                          "(docs/faces.md).",
                    "zh": "尚无人物。以 IMGSEARCH_FACES=on 导入图片时才会检测人脸（见 docs/faces.md）。"},
    "person_unnamed": {"en": "Unnamed", "zh": "未命名"},
    "person_images": {"en": "Images: {count}", "zh": "{count} 张图片"},
    "person_name": {"en": "Name", "zh": "姓名"},
    "person_save": {"en": "Save", "zh": "保存"},
    "person_merge_into": {"en": "Same person as (id or name)", "zh": "与此人相同（编号或姓名）"},
    "person_merge": {"en": "Merge", "zh": "合并"},
    "person_remove": {"en": "Remove with all faces", "zh": "删除此人及其全部人脸"},
    "person_remove_confirm": {"en": "Remove this person and every face of theirs from the index?",
                              "zh": "从索引中删除此人及其全部人脸？"},
    "person_not_this": {"en": "Not this person", "zh": "不是此人"},
    "upload_faces": {"en": "Search by the faces in it", "zh": "按图中人脸搜索"},
    "upload_submit_faces": {"en": "Search by faces", "zh": "按人脸搜索"},
    "faces_title": {"en": "Images with a matching face", "zh": "人脸相符的图片"},
    "faces_from_image": {"en": "Face {face} of this image", "zh": "此图片中的第 {face} 张人脸"},
    "faces_compared": {"en": "{faces} of {found} faces found could be compared",
                       "zh": "检测到 {found} 张人脸，其中 {faces} 张可比对"},
    "faces_threshold": {"en": "match distance at most {threshold}", "zh": "匹配距离不超过 {threshold}"},
    "faces_none": {"en": "No indexed face matches.", "zh": "没有相符的已索引人脸。"},
    "face_distance": {"en": "Distance", "zh": "距离"},
    "faces_in_image": {"en": "Faces", "zh": "人脸"},
    "face_quality_ok": {"en": "Face not grouped yet", "zh": "尚未归入人物的人脸"},
    "face_quality_small": {"en": "Face too small to compare", "zh": "人脸太小，无法比对"},
    "face_quality_blurred": {"en": "Face too blurred to compare", "zh": "人脸太模糊，无法比对"},
    "find_face": {"en": "Find this face", "zh": "查找此人脸"},
    "uploaded_image": {"en": "The uploaded image", "zh": "上传的图片"},
    "appearance_frames": {"en": "({count} frames)", "zh": "（{count} 帧）"},
    "group_by_video": {"en": "One result per video", "zh": "每个视频一条结果"},
    "study_title": {"en": "Study", "zh": "检查"},
    "study_counts": {"en": "{series} series, {images} images", "zh": "{series} 个序列，{images} 张图像"},
    "study_shown": {"en": "The first {shown} of {images} images are listed.", "zh": "列出 {images} 张图像中的前 {shown} 张。"},
    "series_heading": {"en": "Series {number}", "zh": "序列 {number}"},
    "series_unnumbered": {"en": "Series", "zh": "序列"},
    "series_images": {"en": "{count} images", "zh": "{count} 张图像"},
    "instance": {"en": "Image {number}", "zh": "图像 {number}"},
    "study_link": {"en": "The whole study ({description})", "zh": "整个检查（{description}）"},
    "study_link_plain": {"en": "The whole study", "zh": "整个检查"},
    "case_filters": {"en": "Similar cases keep this image's {fields}", "zh": "相似病例保留此图像的{fields}"},
}


def translate(key: str, lang: str, **values) -> str:
    """The text for `key` in `lang` (English when missing), with `values` filled in."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def normalise_language(value: str | None) -> str | None:
    """'zh-CN', 'zh_TW', 'ZH' → 'zh'; 'en-GB' → 'en'; anything we do not offer → None."""
    if not value:
        return None
    base = value.strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else None


def choose_language(query_value: str | None, cookie_value: str | None,
                    accepted: Iterable[str] = ()) -> str:
    """The visitor's language: ?lang=, then the cookie, then Accept-Language (best first), then English."""
    for candidate in (query_value, cookie_value, *accepted):
        lang = normalise_language(candidate)
        if lang:
            return lang
    return DEFAULT_LANGUAGE
