using System.Text.Json;

namespace HeadWise.Tokenizers;

/// <summary>
/// Every tokenizer.json field HeadWise reads and what it does with it. A value is either honoured (the tokenizer then
/// splits text as Hugging Face's tokenizers library does) or refused with an error naming the field, so a
/// tokenizer.json never loads into a tokenizer that silently splits text differently. Adding support for a value is
/// one edit here plus its use in <see cref="TokenizerJson"/>.
/// </summary>
public static class TokenizerJsonFields
{
    /// <param name="Path">The field, as a JSON path.</param>
    /// <param name="Honoured">The values HeadWise follows.</param>
    /// <param name="Refused">The values refused by name.</param>
    public sealed record Field(string Path, string Honoured, string Refused);

    public static readonly IReadOnlyList<Field> All =
    [
        new("model.type", "BPE, WordPiece", "any other model (Unigram, WordLevel, ...)"),
        new("model.vocab", "token -> id (ids 0..n-1, with added_tokens)", "a non-integer or negative id, gaps in the ids"),
        new("model.merges", "\"a b\" strings or [\"a\", \"b\"] pairs", "anything else, and a non-array"),
        new("model.unk_token", "the unknown token", "-"),
        new("model.byte_fallback", "true: SentencePiece-style BPE with <0xNN> byte pieces", "-"),
        new("model.dropout", "null or 0", "any other value (BPE dropout samples different splits)"),
        new("model.continuing_subword_prefix", "null or \"\" (BPE); \"##\" (WordPiece)", "any other prefix"),
        new("model.end_of_word_suffix", "null or \"\"", "any other suffix"),
        new("model.max_input_chars_per_word", "WordPiece: a positive integer (a longer word is the unknown token; missing: 100)", "zero, negative or not an integer"),
        new("model.ignore_merges", "true or false (a word that is a whole token is that token)", "a non-boolean"),
        new("added_tokens[].id", "the token's id", "missing, non-integer or negative"),
        new("added_tokens[].content", "the token's text, matched whole in the input", "missing or not a string"),
        new("added_tokens[].special", "true: a control token (dropped when decoding)", "-"),
        new("added_tokens[].single_word", "false", "true (match only as a whole word)"),
        new("added_tokens[].lstrip", "false", "true (swallow spaces on the left)"),
        new("added_tokens[].rstrip", "false", "true (swallow spaces on the right)"),
        new("added_tokens[].normalized", "true: matched in the normalized text; false: in the raw text; missing: not special", "a non-boolean"),
        new("normalizer", "null; BPE: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip (HfNormalizer; Qwen2 and " +
                          "GPT-NeoX use NFC); WordPiece: BertNormalizer", "any other type (Precompiled, BertNormalizer on BPE, ...)"),
        new("normalizer.lowercase", "WordPiece: true or false", "a non-boolean"),
        new("normalizer.strip_accents", "WordPiece: true, false or null (follows lowercase)", "a non-boolean"),
        new("normalizer.clean_text", "WordPiece: true", "false"),
        new("normalizer.handle_chinese_chars", "WordPiece: true", "false"),
        new("normalizer.normalizers", "Sequence: an array of normalizers", "missing or not an array"),
        new("normalizer.prepend", "Prepend: the string put before non-empty text", "missing or not a string"),
        new("normalizer.content", "Replace: the replacement string", "missing or not a string"),
        new("normalizer.pattern", "Replace: {\"String\": s} or {\"Regex\": non-empty} (1 s timeout)", "missing, an empty Regex, or neither"),
        new("normalizer.strip_left", "Strip: true or false (missing: true)", "a non-boolean"),
        new("normalizer.strip_right", "Strip: true or false (missing: true)", "a non-boolean"),
        new("pre_tokenizer", "null; ByteLevel, Split (Regex or String pattern), Metaspace, Sequence of them (BPE); " +
                             "BertPreTokenizer (WordPiece)", "any other pre-tokenizer type"),
        new("pre_tokenizer.pretokenizers", "Sequence: an array of pre-tokenizers", "missing or not an array"),
        new("pre_tokenizer.use_regex", "ByteLevel: true (GPT-2's split) or false", "-"),
        new("pre_tokenizer.add_prefix_space", "ByteLevel: false; Metaspace: true or false", "ByteLevel true (a space put before the text)"),
        new("pre_tokenizer.pattern", "Split: {\"Regex\": non-empty} (matched with a 1 s timeout) or {\"String\": non-empty}", "empty, non-string or missing"),
        new("pre_tokenizer.behavior", "Split: Isolated", "any other behaviour (Removed, MergedWithPrevious, ...)"),
        new("pre_tokenizer.invert", "Split: false", "true"),
        new("pre_tokenizer.replacement", "Metaspace: \"\u2581\"", "any other replacement"),
        new("pre_tokenizer.prepend_scheme", "Metaspace: always, first, never", "any other value"),
        new("post_processor", "null; TemplateProcessing (single: [special] $A [special]), BertProcessing, RobertaProcessing, " +
                              "ByteLevel, Sequence of them", "any other post-processor type"),
        new("post_processor.processors", "Sequence: an array of post-processors", "missing or not an array"),
        new("post_processor.cls", "BertProcessing/RobertaProcessing: [\"token\", id]", "missing or malformed"),
        new("post_processor.sep", "BertProcessing/RobertaProcessing: [\"token\", id]", "missing or malformed"),
        new("post_processor.single", "TemplateProcessing: SpecialToken before and after the Sequence", "not an array"),
    ];

    private static readonly HashSet<string> BpeNormalizers = ["Sequence", "Prepend", "Replace", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip"];
    private static readonly HashSet<string> BpePreTokenizers = ["ByteLevel", "Split", "Metaspace", "Sequence"];
    private static readonly HashSet<string> WordPiecePreTokenizers = ["BertPreTokenizer"];
    private static readonly HashSet<string> PostProcessors = ["TemplateProcessing", "BertProcessing", "RobertaProcessing", "ByteLevel", "Sequence"];

    /// <summary>Refuses, naming the field, every value of <see cref="All"/> that HeadWise does not honour.</summary>
    public static void Check(JsonElement root, string path)
    {
        void Refuse(string field, string problem) => throw new InvalidModelFileException(path, $"tokenizer.json field '{field}' {problem}");
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, "tokenizer.json must be a JSON object");

        if (root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object)
        {
            bool wordPiece = Str(model, "type") == "WordPiece";
            if (Get(model, "dropout") is { } dropout && !(dropout.ValueKind == JsonValueKind.Number && dropout.TryGetDouble(out var d) && d == 0))
                Refuse("model.dropout", $"is {Raw(dropout)}; only null or 0 is supported (BPE dropout samples different splits)");
            if (Get(model, "continuing_subword_prefix") is { } prefix && Str(prefix) is var p && !(wordPiece ? p == "##" : p == ""))
                Refuse("model.continuing_subword_prefix", $"is {Raw(prefix)}; supported: {(wordPiece ? "\"##\"" : "null or \"\"")}");
            if (Get(model, "end_of_word_suffix") is { } suffix && Str(suffix) != "")
                Refuse("model.end_of_word_suffix", $"is {Raw(suffix)}; only null or \"\" is supported");
            if (Get(model, "ignore_merges") is { } ignore && ignore.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                Refuse("model.ignore_merges", $"is {Raw(ignore)}; it must be true or false");
        }

        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var token in added.EnumerateArray())
            {
                foreach (var flag in new[] { "single_word", "lstrip", "rstrip" })
                    if (token.ValueKind == JsonValueKind.Object && token.TryGetProperty(flag, out var v) && v.ValueKind != JsonValueKind.False)
                        Refuse($"added_tokens[].{flag}", $"is {Raw(v)} for token {ErrorText.Quote(Str(token, "content") ?? "?")}; only false is supported");
                if (Get(token, "normalized") is { } nz && nz.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    Refuse("added_tokens[].normalized", $"is {Raw(nz)} for token {ErrorText.Quote(Str(token, "content") ?? "?")}; it must be true or false");
            }

        bool isWordPiece = root.TryGetProperty("model", out var m) && Str(m, "type") == "WordPiece";
        foreach (var n in Parts(root, "normalizer", "normalizers", path))
        {
            var type = Str(n, "type");
            if (isWordPiece ? type != "BertNormalizer" : !BpeNormalizers.Contains(type ?? ""))
                Refuse("normalizer", $"type {ErrorText.Quote(type)} is not supported (" + (isWordPiece ? "BertNormalizer" : string.Join(", ", BpeNormalizers)) + ")");
            if (type == "Strip")
                foreach (var flag in new[] { "strip_left", "strip_right" })
                    if (Get(n, flag) is { } v && v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                        Refuse($"normalizer.{flag}", $"is {Raw(v)}; it must be true or false");
            if (type != "BertNormalizer") continue;
            foreach (var flag in new[] { "lowercase", "strip_accents" })
                if (Get(n, flag) is { } v && v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    Refuse($"normalizer.{flag}", $"is {Raw(v)}; it must be true, false or null");
            foreach (var flag in new[] { "clean_text", "handle_chinese_chars" })
                if (Get(n, flag) is { } v && v.ValueKind != JsonValueKind.True)
                    Refuse($"normalizer.{flag}", $"is {Raw(v)}; only true is supported");
        }

        foreach (var pre in Parts(root, "pre_tokenizer", "pretokenizers", path))
        {
            var type = Str(pre, "type");
            var supported = isWordPiece ? WordPiecePreTokenizers : BpePreTokenizers;
            if (!supported.Contains(type ?? "")) Refuse("pre_tokenizer", $"type {ErrorText.Quote(type)} is not supported ({string.Join(", ", supported)})");
            if (type == "ByteLevel" && Get(pre, "add_prefix_space") is { ValueKind: JsonValueKind.True })
                Refuse("pre_tokenizer.add_prefix_space", "is true for ByteLevel; only false is supported");
            if (type == "Split")
            {
                if (Str(pre, "behavior") is { } behavior && behavior != "Isolated")
                    Refuse("pre_tokenizer.behavior", $"is {ErrorText.Quote(behavior)}; only Isolated is supported");
                if (Get(pre, "invert") is { } invert && invert.ValueKind != JsonValueKind.False)
                    Refuse("pre_tokenizer.invert", $"is {Raw(invert)}; only false is supported");
            }
            if (type == "Metaspace")
            {
                if (Get(pre, "replacement") is { } r && Str(r) != "\u2581") Refuse("pre_tokenizer.replacement", $"is {Raw(r)}; only \"\u2581\" is supported");
                if (Get(pre, "prepend_scheme") is { } ps && Str(ps) is not ("always" or "first" or "never"))
                    Refuse("pre_tokenizer.prepend_scheme", $"is {Raw(ps)}; supported: always, first, never");
            }
        }

        foreach (var post in Parts(root, "post_processor", "processors", path))
        {
            var type = Str(post, "type");
            if (!PostProcessors.Contains(type ?? "")) Refuse("post_processor", $"type {ErrorText.Quote(type)} is not supported ({string.Join(", ", PostProcessors)})");
        }
    }

    /// <summary>The component and, for a Sequence, its parts (one level, as tokenizers writes them).</summary>
    private static IEnumerable<JsonElement> Parts(JsonElement root, string field, string arrayField, string path)
    {
        if (!root.TryGetProperty(field, out var e) || e.ValueKind == JsonValueKind.Null) yield break;
        if (e.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, $"tokenizer.json field '{field}' must be an object or null");
        yield return e;
        if (Str(e, "type") != "Sequence") yield break;
        if (!e.TryGetProperty(arrayField, out var parts) || parts.ValueKind != JsonValueKind.Array)
            throw new InvalidModelFileException(path, $"tokenizer.json field '{field}' is a Sequence without an array '{arrayField}'");
        foreach (var part in parts.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, $"tokenizer.json field '{field}.{arrayField}' holds a non-object");
            yield return part;
        }
    }

    private static JsonElement? Get(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string? Str(JsonElement e, string name) => Get(e, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static string? Str(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    private static string Raw(JsonElement e) => ErrorText.Quote(e.GetRawText(), 40);
}
