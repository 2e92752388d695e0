using System.Text;
using Microsoft.ML.Tokenizers;

namespace HeadWise.Tokenizers;

/// <summary>
/// BERT's WordPiece vocabulary (vocab.txt or a tokenizer.json WordPiece model), encoded by Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/> (basic tokenization, optional lower-casing, "##" continuations).
/// Encode with addBos wraps the text in [CLS] ... [SEP], as BERT expects.
/// </summary>
public sealed class WordPieceTokenizer : ITokenizer
{
    private readonly string[] _tokens;
    private readonly BertTokenizer _inner;

    private WordPieceTokenizer(string[] tokens, BertTokenizer inner)
    {
        _tokens = tokens; _inner = inner;
        BosId = inner.ClassificationTokenId; EosId = inner.SeparatorTokenId;
    }

    /// <summary>Reads a vocab.txt (one token per line, the line number is the id).</summary>
    public static WordPieceTokenizer FromVocabFile(string path, bool lowercase = true)
    {
        return FromTokens(Formats.BoundedFile.ReadAllLines(path, "vocabulary file", Formats.FileLimits.Vocabulary), lowercase, path);
    }

    /// <summary>BERT's limit: a longer word is the unknown token (Hugging Face's max_input_chars_per_word default).</summary>
    public const int DefaultMaxInputCharsPerWord = 100;

    /// <param name="stripAccents">Drop combining marks after lower-casing (BertNormalizer strip_accents).</param>
    /// <param name="maxInputCharsPerWord">A word longer than this becomes [UNK].</param>
    public static WordPieceTokenizer FromTokens(string[] tokens, bool lowercase, string source, bool stripAccents = false,
        int maxInputCharsPerWord = DefaultMaxInputCharsPerWord)
    {
        VocabularyChecks.NotEmpty(source, tokens, "the token list");
        foreach (var required in new[] { "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]" })
            if (!tokens.Contains(required)) throw new InvalidModelFileException(source, $"a BERT vocabulary needs the token {required}");
        var text = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", tokens) + "\n"));
        try
        {
            var inner = BertTokenizer.Create(text, new BertOptions { LowerCaseBeforeTokenization = lowercase, RemoveNonSpacingMarks = stripAccents, MaxInputCharsPerWord = maxInputCharsPerWord });
            return new WordPieceTokenizer(tokens, inner);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidModelFileException(source, $"WordPiece vocabulary rejected: {e.Message}");
        }
    }

    public string Kind => "wordpiece";
    public int VocabSize => _tokens.Length;
    public int? BosId { get; }
    public int? EosId { get; }
    public bool AddBosByDefault => true;

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _inner.EncodeToIds(text, addSpecialTokens: addBos, considerPreTokenization: true, considerNormalization: true);
    }

    public string Decode(IEnumerable<int> ids) => _inner.Decode(ids, true) ?? "";

    public string TokenLabel(int id) => (uint)id < (uint)_tokens.Length ? VocabularyChecks.Printable(_tokens[id]) : $"<{id}?>";
}
