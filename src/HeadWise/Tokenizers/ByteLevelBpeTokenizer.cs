using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace HeadWise.Tokenizers;

/// <summary>
/// GPT-2 style byte-level BPE: the GGUF "gpt2" vocabulary (tokens in the GPT-2 byte alphabet, merges "a b").
/// Encoding is Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> behind a regex pre-tokenizer;
/// special tokens (control, user-defined) written in the text are matched whole first, as llama.cpp does.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    /// <summary>The GPT-2 pre-tokenizer split.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>
    /// The longest one match of the pre-tokenizer regex may take: patterns come from files, and a catastrophic one
    /// ((a+)+$) would otherwise spin forever on a prompt. Real patterns take microseconds.
    /// </summary>
    public static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);
    /// <summary>The longest pre-tokenizer pattern accepted (real ones are under 200 characters).</summary>
    public const int MaxPatternLength = 4096;

    private readonly string _source;
    private readonly string[] _tokens;
    private readonly TokenType[] _types;
    private readonly byte[][] _decodeBytes;
    private readonly BpeTokenizer _inner;
    private readonly SpecialTokenSplitter _specials;
    private readonly HfNormalizer? _normalizer;
    private readonly SpecialTokenSplitter? _normalizedSpecials;

    /// <param name="tokens">Token strings in the GPT-2 byte alphabet (GGUF tokenizer.ggml.tokens).</param>
    /// <param name="merges">Merge rules "left right", highest priority first (tokenizer.ggml.merges).</param>
    /// <param name="tokenTypes">GGUF token types; null: all normal.</param>
    /// <param name="preTokenizerPattern">The regex that splits text into words before BPE; null: <see cref="Gpt2Pattern"/>.</param>
    /// <param name="pipeline">A tokenizer.json's normalizer (Qwen2's and GPT-NeoX's NFC) and added tokens: text is
    /// prepared as the Rust tokenizers library prepares it (<see cref="HfTextPipeline"/>). GGUF files have none.</param>
    public ByteLevelBpeTokenizer(string[] tokens, string[] merges, int[]? tokenTypes, int? bosId, int? eosId,
        bool addBos = false, string? preTokenizerPattern = null, string source = "(vocabulary)", HfTextPipeline? pipeline = null)
    {
        VocabularyChecks.NotEmpty(source, tokens, "the token list");
        if (merges is null) throw new InvalidModelFileException(source, "the merge list is missing");
        VocabularyChecks.SameLength(source, tokenTypes, tokens.Length, "the token type list");
        VocabularyChecks.IdInRange(source, bosId, tokens.Length, "BOS id");
        VocabularyChecks.IdInRange(source, eosId, tokens.Length, "EOS id");
        if (tokens.Any(t => t is null)) throw new InvalidModelFileException(source, "the token list contains a null entry");

        _source = source;
        _tokens = tokens;
        _types = VocabularyChecks.Types(source, tokenTypes, tokens.Length);
        BosId = bosId; EosId = eosId;
        AddBosByDefault = addBos && bosId is not null;

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) vocab[tokens[i]] = i;   // duplicates: the last id wins, as in llama.cpp
        for (int i = 0; i < merges.Length; i++)
            if (merges[i] is not { Length: > 1 } merge || merge.IndexOf(' ', 1) < 0)
                throw new InvalidModelFileException(source, $"merge {i} ({ErrorText.Quote(merges[i])}) is not of the form \"left right\"");

        Regex pattern;
        if (preTokenizerPattern is { Length: 0 }) throw new InvalidModelFileException(source, "the pre-tokenizer pattern is empty");
        if (preTokenizerPattern is { Length: > MaxPatternLength })
            throw new InvalidModelFileException(source, $"the pre-tokenizer pattern is {preTokenizerPattern.Length:N0} characters; at most {MaxPatternLength:N0} are accepted");
        try { pattern = new Regex(preTokenizerPattern ?? Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, PatternTimeout); }
        catch (ArgumentException e) { throw new InvalidModelFileException(source, $"pre-tokenizer pattern does not compile: {e.Message}"); }

        try
        {
            _inner = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                PreTokenizer = new RegexPreTokenizer(pattern, null),
                ByteLevel = true,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new InvalidModelFileException(source, $"BPE vocabulary/merges rejected: {e.Message}");
        }

        _specials = new SpecialTokenSplitter(pipeline?.RawAdded ?? Enumerable.Range(0, tokens.Length)
            .Where(i => _types[i] is TokenType.Control or TokenType.UserDefined)
            .Select(i => (tokens[i], i)));
        _normalizer = pipeline?.Normalizer;
        _normalizedSpecials = pipeline is null ? null : new SpecialTokenSplitter(pipeline.NormalizedAdded);
        _decodeBytes = Enumerable.Range(0, tokens.Length).Select(DecodeBytesOf).ToArray();
    }

    public string Kind => "gpt2";
    public int VocabSize => _tokens.Length;
    public int? BosId { get; }
    public int? EosId { get; }
    public bool AddBosByDefault { get; }
    public IReadOnlyList<string> Tokens => _tokens;
    public TokenType TypeOf(int id) => _types[id];

    public IReadOnlyList<int> Encode(string text, bool addBos) => Encode(text, addBos, parseSpecial: true);

    public IReadOnlyList<int> Encode(string text, bool addBos, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos && BosId is int bos) ids.Add(bos);
        void EncodeRun(string run)
        {
            if (_normalizer is null) EncodeWords(run);
            else if (parseSpecial) _normalizedSpecials!.Split(_normalizer.Apply(run), EncodeWords, ids.Add);
            else EncodeWords(_normalizer.Apply(run));
        }
        void EncodeWords(string run)
        {
            try { ids.AddRange(_inner.EncodeToIds(run)); }
            catch (RegexMatchTimeoutException)
            {
                throw new InvalidModelFileException(_source, $"the pre-tokenizer regex took over {PatternTimeout.TotalSeconds:0.#} s on one match of this text: the pattern backtracks catastrophically");
            }
        }
        if (parseSpecial) _specials.Split(text, EncodeRun, ids.Add);
        else if (text.Length > 0) EncodeRun(text);
        return ids;
    }

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary (0..{_tokens.Length - 1})");
            bytes.AddRange(_decodeBytes[id]);
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>The token's text with spaces shown as '▁'; bytes that are not whole UTF-8 characters as &lt;0xNN&gt;.</summary>
    public string TokenLabel(int id)
    {
        if ((uint)id >= (uint)_tokens.Length) return $"<{id}?>";
        if (_types[id] is TokenType.Control or TokenType.UserDefined) return VocabularyChecks.Printable(_tokens[id]);
        var bytes = _decodeBytes[id];
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            return VocabularyChecks.Printable(text.Replace(' ', '\u2581'));
        }
        catch (DecoderFallbackException)
        {
            return string.Concat(bytes.Select(b => $"<0x{b:X2}>"));
        }
    }

    /// <summary>Normal tokens map back through the byte alphabet; control tokens are dropped; user-defined tokens are literal text.</summary>
    private byte[] DecodeBytesOf(int id)
    {
        var token = _tokens[id];
        switch (_types[id])
        {
            case TokenType.Control or TokenType.Unused: return [];
            case TokenType.UserDefined: return Encoding.UTF8.GetBytes(token);
        }
        var bytes = new List<byte>(token.Length);
        foreach (var c in token)
        {
            if (ByteLevelAlphabet.TryCharToByte(c, out var b)) bytes.Add(b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));   // not in the alphabet: keep it as text
        }
        return bytes.ToArray();
    }
}
