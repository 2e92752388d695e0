using HeadWise.Tokenizers;

namespace HeadWise.Eval.Tasks;

/// <summary>
/// Encodes text pieces separately so prompts can be assembled in token space (exact lengths, known needle positions).
/// SentencePiece vocabularies put a word-start marker on each piece by themselves; byte-level BPE needs a leading
/// space for the pieces to read as separate words. Which one applies is found by trying it, not by tokenizer kind.
/// </summary>
public sealed class SegmentEncoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _prefixSpace;

    public SegmentEncoder(ITokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        var joined = tokenizer.Encode("Yes", false).Concat(tokenizer.Encode("no", false));
        _prefixSpace = !tokenizer.Decode(joined).Contains("Yes no", StringComparison.Ordinal);
    }

    public ITokenizer Tokenizer => _tokenizer;

    /// <summary>Tokens of <paramref name="text"/> as a piece that follows other text after a space (no BOS).</summary>
    public int[] Encode(string text) => [.. _tokenizer.Encode(_prefixSpace ? " " + text : text, false)];

    /// <summary>BOS when the model expects one, else nothing.</summary>
    public int[] Bos() => _tokenizer.BosId is int b && _tokenizer.AddBosByDefault ? [b] : [];
}
