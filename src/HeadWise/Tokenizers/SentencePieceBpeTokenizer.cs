using System.Text;
using Microsoft.ML.Tokenizers;

namespace HeadWise.Tokenizers;

/// <summary>
/// SentencePiece-style BPE with byte fallback: the GGUF "llama" vocabulary and llama2.c's tokenizer.bin.
/// Encoding is Microsoft.ML.Tokenizers' <see cref="LlamaTokenizer"/>, fed a ModelProto built from the arrays;
/// the settings (no whitespace collapsing, a space prefix on each text run) reproduce llama.cpp's tokenization.
/// </summary>
public sealed class SentencePieceBpeTokenizer : ITokenizer
{
    private const char SpaceMark = '\u2581'; // '▁'
    private readonly string[] _pieces;
    private readonly TokenType[] _types;
    private readonly byte[][] _decodeBytes;      // what each id contributes to decoded text (empty for control tokens)
    private readonly LlamaTokenizer _inner;
    private readonly SpecialTokenSplitter _specials;
    private readonly HfNormalizer? _normalizer;
    private readonly SpecialTokenSplitter? _normalizedSpecials;

    /// <param name="pieces">Token strings, "▁" for space, byte pieces as "&lt;0x0A&gt;" (GGUF tokenizer.ggml.tokens).</param>
    /// <param name="scores">Merge priorities, higher merges first (tokenizer.ggml.scores).</param>
    /// <param name="tokenTypes">GGUF token types (<see cref="TokenType"/>); null: inferred from the pieces' names.</param>
    /// <param name="source">Named in error messages (the file the vocabulary came from).</param>
    /// <param name="pipeline">A tokenizer.json's normalizer and added tokens: text is prepared as the Rust tokenizers
    /// library prepares it (<see cref="HfTextPipeline"/>) instead of llama.cpp's way.</param>
    public SentencePieceBpeTokenizer(string[] pieces, float[] scores, int[]? tokenTypes, int? bosId, int? eosId, int? unkId,
        bool addBos = true, bool addSpacePrefix = true, string source = "(vocabulary)", HfTextPipeline? pipeline = null)
    {
        VocabularyChecks.NotEmpty(source, pieces, "the token list");
        VocabularyChecks.SameLength(source, scores, pieces.Length, "the score list");
        VocabularyChecks.SameLength(source, tokenTypes, pieces.Length, "the token type list");
        VocabularyChecks.IdInRange(source, bosId, pieces.Length, "BOS id");
        VocabularyChecks.IdInRange(source, eosId, pieces.Length, "EOS id");
        VocabularyChecks.IdInRange(source, unkId, pieces.Length, "unknown-token id");
        if (pieces.Any(p => p is null)) throw new InvalidModelFileException(source, "the token list contains a null entry");

        _pieces = pieces;
        _types = tokenTypes is null ? InferTypes(pieces, bosId, eosId, unkId) : VocabularyChecks.Types(source, tokenTypes, pieces.Length);
        BosId = bosId; EosId = eosId; UnkId = unkId;
        AddBosByDefault = addBos && bosId is not null;
        AddSpacePrefix = addSpacePrefix;

        bool byteFallback = CheckBytePieces(source);
        var protoPieces = UniquePieces(pieces);
        // With a normalizer, the "▁" prefix is the normalizer's, already in the text the inner model sees.
        var proto = SentencePieceModelProto.Build(protoPieces, scores, _types, unkId ?? -1, bosId ?? -1, eosId ?? -1, byteFallback,
            addSpacePrefix && pipeline is null);
        _inner = LlamaTokenizer.Create(new MemoryStream(proto), addBeginOfSentence: false, addEndOfSentence: false);

        _specials = new SpecialTokenSplitter(pipeline?.RawAdded ?? Enumerable.Range(0, pieces.Length)
            .Where(i => _types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown)
            .Select(i => (pieces[i], i)));
        _normalizer = pipeline?.Normalizer;
        _normalizedSpecials = pipeline is null ? null : new SpecialTokenSplitter(pipeline.NormalizedAdded);
        _decodeBytes = Enumerable.Range(0, pieces.Length).Select(DecodeBytesOf).ToArray();
    }

    public string Kind => "llama";
    public int VocabSize => _pieces.Length;
    public int? BosId { get; }
    public int? EosId { get; }
    public int? UnkId { get; }
    public bool AddBosByDefault { get; }
    /// <summary>Whether a space is put before the text (SentencePiece add_dummy_prefix / GGUF add_space_prefix).</summary>
    public bool AddSpacePrefix { get; }
    public IReadOnlyList<string> Pieces => _pieces;
    public TokenType TypeOf(int id) => _types[id];

    /// <summary>Special pieces (control, user-defined, unknown) written in the text become their ids, as llama.cpp does with parse_special.</summary>
    public IReadOnlyList<int> Encode(string text, bool addBos) => Encode(text, addBos, parseSpecial: true);

    public IReadOnlyList<int> Encode(string text, bool addBos, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos && BosId is int bos) ids.Add(bos);
        // Each text run gets its own space prefix, like llama.cpp (it re-adds the prefix after every special token)
        // and the Rust library (which normalizes each run between raw-matched added tokens).
        void EncodeWord(string word) => ids.AddRange(_inner.EncodeToIds(word, addBeginningOfSentence: false, addEndOfSentence: false));
        void EncodeRun(string run)
        {
            if (_normalizer is null) EncodeWord(run);
            else if (parseSpecial) _normalizedSpecials!.Split(_normalizer.Apply(run), EncodeWord, ids.Add);
            else EncodeWord(_normalizer.Apply(run));
        }
        if (parseSpecial) _specials.Split(text, EncodeRun, ids.Add);
        else if (text.Length > 0) EncodeRun(text);
        return ids;
    }

    /// <summary>
    /// Byte pieces are joined into UTF-8; control and unknown tokens are dropped; the space prefix of the first piece
    /// (after a leading BOS) is removed, as SentencePiece does. (llama.cpp's llama_detokenize keeps that space when
    /// the ids start with BOS; SentencePiece's rule makes decode(encode(text)) == text.)
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        bool first = true;
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_pieces.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary (0..{_pieces.Length - 1})");
            if (first && id == BosId) continue;
            var piece = _decodeBytes[id];
            // llama.cpp and SentencePiece drop the leading space that the encoder's prefix put there.
            int skip = first && AddSpacePrefix && piece.Length > 0 && piece[0] == (byte)' ' ? 1 : 0;
            for (int i = skip; i < piece.Length; i++) bytes.Add(piece[i]);
            first = false;
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    public string TokenLabel(int id)
    {
        if ((uint)id >= (uint)_pieces.Length) return $"<{id}?>";
        if (_types[id] == TokenType.Byte && TryParseBytePiece(_pieces[id], out var b) && b is >= 0x20 and < 0x7F) return ((char)b).ToString();
        return VocabularyChecks.Printable(_pieces[id]);
    }

    private byte[] DecodeBytesOf(int id) => _types[id] switch
    {
        TokenType.Control or TokenType.Unused or TokenType.Unknown => [],   // as llama.cpp without unparse_special
        TokenType.Byte when TryParseBytePiece(_pieces[id], out var b) => [b],
        _ => Encoding.UTF8.GetBytes(_pieces[id].Replace(SpaceMark, ' ')),
    };

    /// <summary>Byte fallback needs all 256 pieces &lt;0x00&gt;..&lt;0xFF&gt; in order (Microsoft.ML.Tokenizers maps byte b to id first+b).</summary>
    private bool CheckBytePieces(string source)
    {
        int first = Array.FindIndex(_types, t => t == TokenType.Byte);
        if (first < 0) return false;
        for (int b = 0; b < 256; b++)
        {
            int id = first + b;
            if (id >= _pieces.Length || _types[id] != TokenType.Byte || !TryParseBytePiece(_pieces[id], out var v) || v != b)
                throw new InvalidModelFileException(source, $"byte pieces must be <0x00>..<0xFF> at consecutive ids; token {id} breaks the sequence");
        }
        // Once each: a second "<0xNN>" elsewhere would take the piece's text (the last id wins, as in llama.cpp) and move
        // the byte-fallback ids the inner model derives from "<0x00>" past the vocabulary.
        for (int id = 0; id < _pieces.Length; id++)
            if ((id < first || id >= first + 256) && TryParseBytePiece(_pieces[id], out var b))
                throw new InvalidModelFileException(source, $"byte piece {_pieces[id]} appears twice (tokens {first + b} and {id})");
        return true;
    }

    private static TokenType[] InferTypes(string[] pieces, int? bos, int? eos, int? unk)
    {
        var types = new TokenType[pieces.Length];
        for (int i = 0; i < pieces.Length; i++)
            types[i] = i == unk ? TokenType.Unknown
                : i == bos || i == eos ? TokenType.Control
                : TryParseBytePiece(pieces[i], out _) ? TokenType.Byte
                : TokenType.Normal;
        return types;
    }

    internal static bool TryParseBytePiece(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }

    /// <summary>
    /// Microsoft.ML.Tokenizers rejects duplicate pieces. llama.cpp's text-to-id map keeps the last id of a duplicate,
    /// so earlier copies are renamed to something text can never produce.
    /// </summary>
    private static string[] UniquePieces(string[] pieces)
    {
        var lastId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < pieces.Length; i++) lastId[pieces[i]] = i;
        if (lastId.Count == pieces.Length) return pieces;
        var unique = (string[])pieces.Clone();
        for (int i = 0; i < unique.Length; i++)
            if (lastId[pieces[i]] != i) unique[i] = $"\0duplicate-{i}\0";
        return unique;
    }
}
