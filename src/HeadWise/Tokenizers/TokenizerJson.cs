using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace HeadWise.Tokenizers;

/// <summary>
/// A Hugging Face tokenizer.json reduced to what HeadWise's tokenizers (and the GGUF converter) need.
/// Three model kinds are recognised: byte-level BPE ("gpt2": GPT-2, Qwen2, Llama-3), SentencePiece-style BPE with
/// byte fallback ("llama": Llama-2, Mistral) and WordPiece ("wordpiece": BERT).
/// </summary>
public sealed record TokenizerJsonModel
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
    /// <summary>SentencePiece style with a normalizer (Llama-2 layout): the Rust library's text pipeline (<see cref="HfTextPipeline"/>).</summary>
    public HfTextPipeline? Pipeline { get; init; }
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
        "gpt2" => new ByteLevelBpeTokenizer(Tokens, Merges, Types, BosId, EosId, AddBos, Pattern, Source),
        _ => WordPieceTokenizer.FromTokens(Tokens, Lowercase, Source),
    };
}

/// <summary>Reads tokenizer.json files.</summary>
public static class TokenizerJson
{
    public static ITokenizer Load(string path) => Read(path).Build();

    public static TokenizerJsonModel Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidModelFileException(path, "file not found");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidModelFileException(path, $"not valid JSON: {e.Message}"); }
        using (doc) return Parse(doc.RootElement, path);
    }

    private static TokenizerJsonModel Parse(JsonElement root, string path)
    {
        InvalidModelFileException Bad(string what) => new(path, what);
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object) throw Bad("field 'model' is missing");
        var type = Str(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : null) ?? throw Bad("field 'model.type' is missing");
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object) throw Bad("field 'model.vocab' must be an object");

        var byId = new SortedDictionary<int, string>();
        foreach (var p in vocab.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
                throw Bad($"model.vocab['{p.Name}'] must be a non-negative integer id");
            byId[id] = p.Name;
        }
        var special = new HashSet<int>();
        var added = new HashSet<int>();
        var normalizedAdded = new HashSet<int>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
            foreach (var a in addedTokens.EnumerateArray())
            {
                var id = a.GetProperty("id").GetInt32();
                byId[id] = a.GetProperty("content").GetString() ?? throw Bad($"added token {id} has no content");
                added.Add(id);
                bool isSpecial = a.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
                if (isSpecial) special.Add(id);
                // Matched in the normalized text (content normalized too) or in the raw text; the library's default is !special.
                if (a.TryGetProperty("normalized", out var nz0) ? nz0.ValueKind == JsonValueKind.True : !isSpecial) normalizedAdded.Add(id);
            }
        if (byId.Count == 0) throw Bad("the vocabulary is empty");
        int count = byId.Keys.Max() + 1;
        if (count != byId.Count) throw Bad($"token ids are not contiguous: {byId.Count} tokens but the largest id is {count - 1}");
        var tokens = byId.Values.ToArray();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) index.TryAdd(tokens[i], i);
        int? Id(string? token) => token is not null && index.TryGetValue(token, out var i) ? i : null;

        var (bosToken, eosToken, addBos) = PostProcessor(root);
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
                    BosId = Id(bosToken ?? "[CLS]"), EosId = Id(eosToken ?? "[SEP]"), AddBos = true,
                    Lowercase = norm.ValueKind == JsonValueKind.Object && norm.TryGetProperty("lowercase", out var lc) && lc.ValueKind == JsonValueKind.True,
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
                    bool prefix = Has(normalizer, "Prepend") || Metaspace(pre) is { } ms && (ms.TryGetProperty("prepend_scheme", out var ps)
                        ? ps.GetString() is not "never" : !ms.TryGetProperty("add_prefix_space", out var aps) || aps.ValueKind != JsonValueKind.False);
                    var textNormalizer = HfNormalizer.Parse(normalizer, path);
                    return new TokenizerJsonModel
                    {
                        Kind = "llama", Tokens = tokens, Types = types, Merges = merges, UnkId = unk, Source = path,
                        BosId = Id(bosToken ?? "<s>"), EosId = Id(eosToken ?? "</s>"), AddBos = addBos, AddSpacePrefix = prefix,
                        Pipeline = textNormalizer is null ? null : new HfTextPipeline(textNormalizer,
                            added.Where(i => !normalizedAdded.Contains(i)).Select(i => (tokens[i], i)).ToArray(),
                            normalizedAdded.Select(i => (textNormalizer.Apply(tokens[i]), i)).ToArray()),
                    };
                }
                var pattern = PreTokenizerPattern(pre, path);
                var eosGuess = Id(eosToken) ?? Id("<|endoftext|>") ?? Id("</s>");
                return new TokenizerJsonModel
                {
                    Kind = "gpt2", Tokens = tokens, Types = types, Merges = merges, UnkId = unk, Source = path,
                    BosId = Id(bosToken) ?? eosGuess, EosId = eosGuess, AddBos = addBos, Pattern = pattern,
                };
            default:
                throw Bad($"model.type '{type}' is not supported (BPE, WordPiece)");
        }
    }

    private static string[] Merges(JsonElement model, string path)
    {
        if (!model.TryGetProperty("merges", out var m) || m.ValueKind != JsonValueKind.Array) return [];
        var list = new string[m.GetArrayLength()];
        int i = 0;
        foreach (var e in m.EnumerateArray())
            list[i++] = e.ValueKind switch
            {
                JsonValueKind.String => e.GetString()!,
                // tokenizers >= 0.20 write ["left", "right"]
                JsonValueKind.Array when e.GetArrayLength() == 2 => e[0].GetString() + " " + e[1].GetString(),
                _ => throw new InvalidModelFileException(path, $"model.merges[{i}] is neither \"a b\" nor [\"a\", \"b\"]"),
            };
        return list;
    }

    /// <summary>The regex a byte-level pre-tokenizer splits with: GPT-2's for ByteLevel(use_regex), or the Split pattern (Qwen2, Llama-3).</summary>
    private static string PreTokenizerPattern(JsonElement pre, string path)
    {
        if (pre.ValueKind != JsonValueKind.Object) throw new InvalidModelFileException(path, "a byte-level BPE tokenizer needs a pre_tokenizer");
        var parts = Str(pre, "type") == "Sequence" ? pre.GetProperty("pretokenizers").EnumerateArray().ToList() : [pre];
        foreach (var part in parts)
        {
            if (Str(part, "type") == "Split" && part.TryGetProperty("pattern", out var pat))
                return Str(pat, "Regex") ?? System.Text.RegularExpressions.Regex.Escape(Str(pat, "String") ?? "");
            if (Str(part, "type") == "ByteLevel" && (!part.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False))
                return ByteLevelBpeTokenizer.Gpt2Pattern;
        }
        throw new InvalidModelFileException(path, "pre_tokenizer has neither a Split regex nor ByteLevel with use_regex");
    }

    /// <summary>The special tokens the post-processor wraps a single text in: (BOS, EOS, whether BOS is added).</summary>
    private static (string? Bos, string? Eos, bool AddBos) PostProcessor(JsonElement root)
    {
        if (!root.TryGetProperty("post_processor", out var pp) || pp.ValueKind != JsonValueKind.Object) return (null, null, false);
        var list = Str(pp, "type") == "Sequence" ? pp.GetProperty("processors").EnumerateArray().ToList() : [pp];
        foreach (var proc in list)
        {
            switch (Str(proc, "type"))
            {
                case "BertProcessing" or "RobertaProcessing":
                    return (proc.GetProperty("cls")[0].GetString(), proc.GetProperty("sep")[0].GetString(), true);
                case "TemplateProcessing" when proc.TryGetProperty("single", out var single):
                    var items = single.EnumerateArray().ToList();
                    int seq = items.FindIndex(x => x.TryGetProperty("Sequence", out _));
                    string? SpecialAt(int i) => i >= 0 && i < items.Count && items[i].TryGetProperty("SpecialToken", out var st) ? Str(st, "id") : null;
                    var bos = SpecialAt(seq - 1);
                    return (bos, SpecialAt(seq + 1), bos is not null);
            }
        }
        return (null, null, false);
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
        if (pre.TryGetProperty("pretokenizers", out var arr))
            foreach (var x in arr.EnumerateArray()) if (Str(x, "type") == "Metaspace") return x;
        return null;
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
