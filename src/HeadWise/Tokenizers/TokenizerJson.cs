using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace HeadWise.Tokenizers;

/// <summary>
/// A Hugging Face tokenizer.json reduced to what HeadWise's tokenizers (and the GGUF converter) need.
/// Three model kinds are recognised: byte-level BPE ("gpt2": GPT-2, Qwen2, Llama-3), SentencePiece-style BPE with
/// byte fallback ("llama": Llama-2, Mistral) and WordPiece ("wordpiece": BERT).
/// </summary>
internal sealed record TokenizerJsonModel
{
    /// <summary>"gpt2", "llama" or "wordpiece" (the <see cref="ITokenizer.Kind"/> the tokenizer will have).</summary>
    public required string Kind { get; init; }
    /// <summary>Token strings by id (vocab plus added tokens); byte-level tokens are in the GPT-2 byte alphabet.</summary>
    public required string[] Tokens { get; init; }
    public required int[] Types { get; init; }
    /// <summary>BPE merges "left right", highest priority first (empty for WordPiece).</summary>
    public string[] Merges { get; init; } = [];
    public int? BosId { get; init; }
    public int? EosId { get; init; }
    public int? UnkId { get; init; }
    /// <summary>Whether the post-processor puts BOS (or [CLS]) in front of each text.</summary>
    public bool AddBos { get; init; }
    /// <summary>SentencePiece style: a '▁' is put before the text.</summary>
    public bool AddSpacePrefix { get; init; }
    /// <summary>Byte-level: the pre-tokenizer regex.</summary>
    public string? Pattern { get; init; }
    /// <summary>Byte-level: llama.cpp's name for the pre-tokenizer (tokenizer.ggml.pre: gpt-2, qwen2, llama-bpe), null when the regex has none.</summary>
    public string? PreName => Pattern is null ? null
        : TokenizerFactory.PreTokenizerPatterns.Where(kv => kv.Value == Pattern && kv.Key is not ("default" or "gpt2" or "llama3")).Select(kv => kv.Key).FirstOrDefault();
    /// <summary>WordPiece: lower-case the text first (BertNormalizer lowercase).</summary>
    public bool Lowercase { get; init; }
    /// <summary>BPE with a normalizer (Llama-2's Prepend/Replace, Qwen2's NFC): the Rust library's text pipeline (<see cref="HfTextPipeline"/>).</summary>
    public HfTextPipeline? Pipeline { get; init; }
    /// <summary>WordPiece: drop accents (BertNormalizer strip_accents; null follows lowercase, as in tokenizers).</summary>
    public bool StripAccents { get; init; }
    /// <summary>WordPiece: a word longer than this many characters becomes the unknown token (model.max_input_chars_per_word).</summary>
    public int MaxInputCharsPerWord { get; init; } = WordPieceTokenizer.DefaultMaxInputCharsPerWord;
    public string Source { get; init; } = "(tokenizer.json)";

    /// <summary>SentencePiece scores from the merge order: a piece made by an earlier merge scores higher.</summary>
    public float[] Scores()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Tokens.Length; i++) index.TryAdd(Tokens[i], i);
        var scores = new float[Tokens.Length];
        var seen = new bool[Tokens.Length];
        for (int r = 0; r < Merges.Length; r++)
        {
            var merged = Merges[r].Replace(" ", "");
            if (index.TryGetValue(merged, out var id) && !seen[id]) { seen[id] = true; scores[id] = -r; }
        }
        for (int i = 0; i < scores.Length; i++) if (!seen[i]) scores[i] = -Merges.Length - i;
        return scores;
    }

    /// <summary>BOS/EOS from elsewhere (generation_config.json) where given; ids outside the vocabulary are refused when built.</summary>
    public TokenizerJsonModel WithSpecialIds(int? bos, int? eos) => this with { BosId = bos ?? BosId, EosId = eos ?? EosId };

    /// <summary>Builds the tokenizer (the same classes GGUF vocabularies use).</summary>
    public ITokenizer Build() => Kind switch
    {
        "llama" => new SentencePieceBpeTokenizer(Tokens, Scores(), Types, BosId, EosId, UnkId, AddBos, AddSpacePrefix, Source, Pipeline),
        "gpt2" => new ByteLevelBpeTokenizer(Tokens, Merges, Types, BosId, EosId, AddBos, Pattern, Source, Pipeline),
        _ => WordPieceTokenizer.FromTokens(Tokens, Lowercase, Source, StripAccents, MaxInputCharsPerWord),
    };
}

/// <summary>Reads tokenizer.json files.</summary>
internal static class TokenizerJson
{
    public static ITokenizer Load(string path) => Read(path).Build();

    public static TokenizerJsonModel Read(string path)
    {
        using var doc = Formats.BoundedFile.ReadJson(path, "tokenizer.json", Formats.FileLimits.TokenizerJson);
        return Parse(doc.RootElement, path);
    }

    private static TokenizerJsonModel Parse(JsonElement root, string path)
    {
        InvalidModelFileException Bad(string what) => new(path, what);
        TokenizerJsonFields.Check(root, path);
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object) throw Bad("field 'model' is missing");
        var type = Str(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : null) ?? throw Bad("field 'model.type' is missing");
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object) throw Bad("field 'model.vocab' must be an object");

        var byId = new SortedDictionary<int, string>();
        foreach (var p in vocab.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
                throw Bad($"model.vocab[{ErrorText.Quote(p.Name)}] must be a non-negative integer id");
            byId[id] = p.Name;
        }
        var special = new HashSet<int>();
        var added = new HashSet<int>();
        var normalizedAdded = new HashSet<int>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind != JsonValueKind.Null)
        {
            if (addedTokens.ValueKind != JsonValueKind.Array) throw Bad("field 'added_tokens' must be an array");
            int i = 0;
            foreach (var a in addedTokens.EnumerateArray())
            {
                if (a.ValueKind != JsonValueKind.Object) throw Bad($"added_tokens[{i}] must be an object");
                if (!a.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.Number || !idElement.TryGetInt32(out var id) || id < 0)
                    throw Bad($"added_tokens[{i}].id must be a non-negative integer");
                byId[id] = Str(a, "content") ?? throw Bad($"added_tokens[{i}].content must be a string");
                added.Add(id);
                bool isSpecial = a.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
                if (isSpecial) special.Add(id);
                // Matched in the normalized text (content normalized too) or in the raw text; the library's default is !special.
                if (a.TryGetProperty("normalized", out var nz0) ? nz0.ValueKind == JsonValueKind.True : !isSpecial) normalizedAdded.Add(id);
                i++;
            }
        }
        if (byId.Count == 0) throw Bad("the vocabulary is empty");
        long count = (long)byId.Keys.Max() + 1;
        if (count != byId.Count) throw Bad($"token ids are not contiguous: {byId.Count} tokens but the largest id is {count - 1}");
        var tokens = byId.Values.ToArray();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) index.TryAdd(tokens[i], i);
        int? Id(string? token) => token is not null && index.TryGetValue(token, out var i) ? i : null;

        var (bosToken, eosToken, addBos) = PostProcessor(root, path);
        var unk = Id(Str(model, "unk_token"));
        var types = new int[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
            types[i] = (int)(i == unk ? TokenType.Unknown : special.Contains(i) ? TokenType.Control : added.Contains(i) ? TokenType.UserDefined : TokenType.Normal);

        switch (type)
        {
            case "WordPiece":
                var norm = root.TryGetProperty("normalizer", out var n) && n.ValueKind == JsonValueKind.Object ? n : default;
                return new TokenizerJsonModel
                {
                    Kind = "wordpiece", Tokens = tokens, Types = types, UnkId = unk, Source = path,
                    MaxInputCharsPerWord = MaxInputCharsPerWord(model, path),
                    BosId = Id(bosToken ?? "[CLS]"), EosId = Id(eosToken ?? "[SEP]"), AddBos = true,
                    Lowercase = norm.ValueKind == JsonValueKind.Object && norm.TryGetProperty("lowercase", out var lc) && lc.ValueKind == JsonValueKind.True,
                    StripAccents = norm.ValueKind == JsonValueKind.Object && norm.TryGetProperty("strip_accents", out var sa) && sa.ValueKind != JsonValueKind.Null
                        ? sa.ValueKind == JsonValueKind.True
                        : norm.ValueKind == JsonValueKind.Object && norm.TryGetProperty("lowercase", out var lc2) && lc2.ValueKind == JsonValueKind.True,
                };
            case "BPE":
                var merges = Merges(model, path);
                bool byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
                var pre = root.TryGetProperty("pre_tokenizer", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
                var normalizer = root.TryGetProperty("normalizer", out var nz) && nz.ValueKind == JsonValueKind.Object ? nz : default;
                if (byteFallback || Has(normalizer, "Prepend") || Has(pre, "Metaspace"))
                {
                    // SentencePiece style: '▁' for spaces, a '▁' before the text, <0xNN> byte pieces.
                    for (int i = 0; i < tokens.Length; i++)
                        if (types[i] == (int)TokenType.Normal && SentencePieceBpeTokenizer.TryParseBytePiece(tokens[i], out _)) types[i] = (int)TokenType.Byte;
                    bool prefix = Has(normalizer, "Prepend") || Metaspace(pre) is { } ms && (ms.TryGetProperty("prepend_scheme", out _)
                        ? Str(ms, "prepend_scheme") is not "never" : !ms.TryGetProperty("add_prefix_space", out var aps) || aps.ValueKind != JsonValueKind.False);
                    return new TokenizerJsonModel
                    {
                        Kind = "llama", Tokens = tokens, Types = types, Merges = merges, UnkId = unk, Source = path,
                        BosId = Id(bosToken ?? "<s>"), EosId = Id(eosToken ?? "</s>"), AddBos = addBos, AddSpacePrefix = prefix,
                        Pipeline = TextPipeline(normalizer, tokens, added, normalizedAdded, path),
                    };
                }
                var pattern = PreTokenizerPattern(pre, path);
                var eosGuess = Id(eosToken) ?? Id("<|endoftext|>") ?? Id("</s>");
                return new TokenizerJsonModel
                {
                    Kind = "gpt2", Tokens = tokens, Types = types, Merges = merges, UnkId = unk, Source = path,
                    BosId = Id(bosToken) ?? eosGuess, EosId = eosGuess, AddBos = addBos, Pattern = pattern,
                    Pipeline = TextPipeline(normalizer, tokens, added, normalizedAdded, path),
                };
            default:
                throw Bad($"model.type {ErrorText.Quote(type)} is not supported (BPE, WordPiece)");
        }
    }

    /// <summary>The normalizer and where each added token is matched (raw or normalized text); null without a normalizer.</summary>
    private static HfTextPipeline? TextPipeline(JsonElement normalizer, string[] tokens, HashSet<int> added, HashSet<int> normalizedAdded, string path)
    {
        var textNormalizer = HfNormalizer.Parse(normalizer, path);
        return textNormalizer is null ? null : new HfTextPipeline(textNormalizer,
            added.Where(i => !normalizedAdded.Contains(i)).Select(i => (tokens[i], i)).ToArray(),
            normalizedAdded.Select(i => (textNormalizer.Apply(tokens[i]), i)).ToArray());
    }

    private static string[] Merges(JsonElement model, string path)
    {
        if (!model.TryGetProperty("merges", out var m) || m.ValueKind == JsonValueKind.Null) return [];
        if (m.ValueKind != JsonValueKind.Array) throw new InvalidModelFileException(path, "field 'model.merges' must be an array");
        var list = new string[m.GetArrayLength()];
        int i = 0;
        foreach (var e in m.EnumerateArray())
        {
            list[i] = e.ValueKind switch
            {
                JsonValueKind.String => e.GetString()!,
                // tokenizers >= 0.20 write ["left", "right"]
                JsonValueKind.Array when e.GetArrayLength() == 2 && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String
                    => e[0].GetString() + " " + e[1].GetString(),
                _ => throw new InvalidModelFileException(path, $"model.merges[{i}] is neither \"a b\" nor [\"a\", \"b\"]"),
            };
            i++;
        }
        return list;
    }

    /// <summary>The regex a byte-level pre-tokenizer splits with: GPT-2's for ByteLevel(use_regex), or the Split pattern (Qwen2, Llama-3).</summary>
    private static string PreTokenizerPattern(JsonElement pre, string path)
    {
        if (pre.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, "a byte-level BPE tokenizer needs a pre_tokenizer");
        foreach (var part in Items(pre, "pretokenizers", "pre_tokenizer", path))
        {
            if (Str(part, "type") == "Split") return SplitPattern(part, path);
            if (Str(part, "type") == "ByteLevel" && (!part.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False))
                return ByteLevelBpeTokenizer.Gpt2Pattern;
        }
        throw new InvalidModelFileException(path, "pre_tokenizer has neither a Split regex nor ByteLevel with use_regex");
    }

    /// <summary>
    /// Split's pattern: {"Regex": "..."} compiled as is (with a match timeout, in the tokenizer) or {"String": "..."}
    /// matched literally. An empty or non-string pattern is refused: it would split nothing, or everything, silently.
    /// </summary>
    private static string SplitPattern(JsonElement split, string path)
    {
        if (!split.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, "pre_tokenizer Split needs a 'pattern' object ({\"Regex\": ...} or {\"String\": ...})");
        foreach (var (key, literal) in new[] { ("Regex", false), ("String", true) })
        {
            if (!pattern.TryGetProperty(key, out var value)) continue;
            if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
                throw new InvalidModelFileException(path, $"pre_tokenizer Split pattern.{key} must be a non-empty string");
            return literal ? System.Text.RegularExpressions.Regex.Escape(text) : text;
        }
        throw new InvalidModelFileException(path, "pre_tokenizer Split pattern has neither 'Regex' nor 'String'");
    }

    /// <summary>The special tokens the post-processor wraps a single text in: (BOS, EOS, whether BOS is added).</summary>
    private static (string? Bos, string? Eos, bool AddBos) PostProcessor(JsonElement root, string path)
    {
        if (!root.TryGetProperty("post_processor", out var pp) || pp.ValueKind != JsonValueKind.Object) return (null, null, false);
        foreach (var proc in Items(pp, "processors", "post_processor", path))
        {
            switch (Str(proc, "type"))
            {
                case "BertProcessing" or "RobertaProcessing":
                    return (PairToken(proc, "cls", path), PairToken(proc, "sep", path), true);
                case "TemplateProcessing" when proc.TryGetProperty("single", out var single):
                    if (single.ValueKind != JsonValueKind.Array) throw new InvalidModelFileException(path, "post_processor TemplateProcessing 'single' must be an array");
                    var items = single.EnumerateArray().ToList();
                    int seq = items.FindIndex(x => x.ValueKind == JsonValueKind.Object && x.TryGetProperty("Sequence", out _));
                    string? SpecialAt(int i) => i >= 0 && i < items.Count && items[i].ValueKind == JsonValueKind.Object
                        && items[i].TryGetProperty("SpecialToken", out var st) ? Str(st, "id") : null;
                    var bos = SpecialAt(seq - 1);
                    return (bos, SpecialAt(seq + 1), bos is not null);
            }
        }
        return (null, null, false);
    }

    /// <summary>BertProcessing's cls/sep: ["token", id].</summary>
    private static string PairToken(JsonElement processor, string field, string path) =>
        processor.TryGetProperty(field, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() >= 1
        && pair[0].ValueKind == JsonValueKind.String ? pair[0].GetString()!
            : throw new InvalidModelFileException(path, $"post_processor {Str(processor, "type")} needs {ErrorText.Quote(field)} as [\"token\", id]");

    /// <summary>A Sequence's parts (its array field), or the element itself.</summary>
    private static List<JsonElement> Items(JsonElement e, string arrayField, string what, string path)
    {
        if (Str(e, "type") != "Sequence") return [e];
        if (!e.TryGetProperty(arrayField, out var parts) || parts.ValueKind != JsonValueKind.Array)
            throw new InvalidModelFileException(path, $"{what} Sequence needs an array {ErrorText.Quote(arrayField)}");
        return parts.EnumerateArray().ToList();
    }

    private static bool Has(JsonElement e, string type)
    {
        if (e.ValueKind != JsonValueKind.Object) return false;
        if (Str(e, "type") == type) return true;
        foreach (var key in new[] { "normalizers", "pretokenizers" })
            if (e.TryGetProperty(key, out var arr) && arr.ValueKind == JsonValueKind.Array && arr.EnumerateArray().Any(x => Has(x, type))) return true;
        return false;
    }

    private static JsonElement? Metaspace(JsonElement pre)
    {
        if (pre.ValueKind != JsonValueKind.Object) return null;
        if (Str(pre, "type") == "Metaspace") return pre;
        if (pre.TryGetProperty("pretokenizers", out var arr) && arr.ValueKind == JsonValueKind.Array)
            foreach (var x in arr.EnumerateArray()) if (Str(x, "type") == "Metaspace") return x;
        return null;
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>model.max_input_chars_per_word: missing is BERT's default; a positive integer is honoured.</summary>
    private static int MaxInputCharsPerWord(JsonElement model, string path)
    {
        if (!model.TryGetProperty("max_input_chars_per_word", out var m) || m.ValueKind == JsonValueKind.Null)
            return WordPieceTokenizer.DefaultMaxInputCharsPerWord;
        if (m.ValueKind != JsonValueKind.Number || !m.TryGetInt32(out var n) || n < 1)
            throw new InvalidModelFileException(path, "model.max_input_chars_per_word must be a positive integer");
        return n;
    }
}
