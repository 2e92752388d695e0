using Xunit;
using HeadWise.Tokenizers;
using Microsoft.ML.Tokenizers;

namespace HeadWise.Tests.Tokenizers;

/// <summary>
/// The stories260K vocabulary, read from the GGUF metadata and from llama2.c's tok512.bin, checked against llama.cpp
/// (LLamaSharp) and against Microsoft.ML.Tokenizers on the original SentencePiece model tok512.model.
/// </summary>
public sealed class SentencePieceBpeTokenizerTests(LlamaCppOracle llama) : IClassFixture<LlamaCppOracle>
{
    internal static readonly Lazy<ITokenizer> Gguf = new(() =>
        TokenizerFactory.FromGgufMetadata(StoriesMetadata(), TestPaths.Stories260KGguf));
    private static readonly Lazy<SentencePieceBpeTokenizer> Llama2c = new(() => TokenizerFactory.FromLlama2cFile(TestPaths.Stories260KTokenizerBin));

    public static TheoryData<string> Texts => new(TokenizerTestTexts.Varied);

    [Fact]
    public void GgufVocabularyIsTheLlamaKind()
    {
        var t = Assert.IsType<SentencePieceBpeTokenizer>(Gguf.Value);
        Assert.Equal("llama", t.Kind);
        Assert.Equal(512, t.VocabSize);
        Assert.Equal(1, t.BosId);
        Assert.Equal(2, t.EosId);
        Assert.Equal(0, t.UnkId);
        Assert.True(t.AddBosByDefault);
    }

    [Theory, MemberData(nameof(Texts))]
    public void GgufEncodingMatchesLlamaCpp(string text)
    {
        var t = (SentencePieceBpeTokenizer)Gguf.Value;
        foreach (var addBos in new[] { false, true })
        {
            Assert.Equal(llama.Tokenize(text, addBos, special: true), t.Encode(text, addBos));
            Assert.Equal(llama.Tokenize(text, addBos, special: false), t.Encode(text, addBos, parseSpecial: false));
        }
    }

    [Theory, MemberData(nameof(Texts))]
    public void Llama2cEncodingMatchesLlamaCpp(string text)
    {
        // tok512.bin holds the same 512 pieces and scores as the GGUF, so llama.cpp is its reference too.
        Assert.Equal(llama.Tokenize(text, true, special: true), Llama2c.Value.Encode(text, addBos: true));
        Assert.Equal(llama.Tokenize(text, false, special: false), Llama2c.Value.Encode(text, false, parseSpecial: false));
    }

    [Fact]
    public void MobyDickParagraphsMatchLlamaCpp()
    {
        int checkedTokens = 0;
        foreach (var p in TokenizerTestTexts.MobyDickParagraphs(60))
        {
            var expected = llama.Tokenize(p, addBos: true, special: false);
            Assert.Equal(expected, Gguf.Value.Encode(p, addBos: true));
            Assert.Equal(expected, Llama2c.Value.Encode(p, addBos: true));
            checkedTokens += expected.Length;
        }
        Assert.True(checkedTokens > 10_000, $"only {checkedTokens} tokens checked");
    }

    [Theory, MemberData(nameof(Texts))]
    public void DecodeInvertsEncode(string text)
    {
        // Exact round trip: with remove_extra_whitespaces off nothing is normalised away, and byte fallback covers
        // every character that has no piece. (Lone surrogates would not survive UTF-8; none are in the list.)
        // Special pieces are parsed off here: "<s>" written in the text would otherwise become BOS, which Decode drops.
        foreach (var t in new[] { (SentencePieceBpeTokenizer)Gguf.Value, Llama2c.Value })
        {
            Assert.Equal(text, t.Decode(t.Encode(text, addBos: true, parseSpecial: false)));
            Assert.Equal(text, t.Decode(t.Encode(text, addBos: false, parseSpecial: false)));
        }
    }

    [Fact]
    public void MobyDickRoundTrips()
    {
        foreach (var p in TokenizerTestTexts.MobyDickParagraphs(60))
            Assert.Equal(p, Gguf.Value.Decode(Gguf.Value.Encode(p, addBos: true)));
    }

    /// <summary>
    /// Compared on ids without a leading BOS. With one, llama.cpp's llama_detokenize strips the BOS but then keeps the
    /// space prefix (" Hello"); Decode follows SentencePiece and drops it, so that decode(encode(text)) == text.
    /// </summary>
    [Theory, MemberData(nameof(Texts))]
    public void DecodeMatchesLlamaCpp(string text)
    {
        var ids = llama.Tokenize(text, addBos: false, special: true);
        if (ids.Length > 0 && ids[0] == 1) ids = ids[1..];   // "<s>" written at the start of the text parses to BOS
        Assert.Equal(llama.Detokenize(ids), Gguf.Value.Decode(ids));
        if (ids.Length > 0 && Gguf.Value.Decode(ids).Length > 0)
            Assert.Equal(" " + Gguf.Value.Decode([1, .. ids]), llama.Detokenize([1, .. ids]));   // the one known difference
    }

    [Fact]
    public void DecodeJoinsBytePiecesAndDropsSpecials()
    {
        var t = Llama2c.Value;
        // "’" is E2 80 99; byte pieces start at id 3 (<0x00>).
        int B(int b) => 3 + b;
        Assert.Equal("’", t.Decode([B(0xE2), B(0x80), B(0x99)]));
        // BOS/EOS dropped, the space prefix of "▁a" removed, bytes joined into one character.
        Assert.Equal("a’", t.Decode([1, .. t.Encode("a", false), B(0xE2), B(0x80), B(0x99), 2]));
        // Decoding agrees with llama.cpp's llama_detokenize, including its odd corners.
        int[][] cases = [[B(' '), .. t.Encode("a", false)], [2, .. t.Encode(" a", false)], [B(0xE2), B(0x80)], [0, 5, 1, 260, 2], [300, 1, 300]];
        foreach (var ids in cases) Assert.Equal(llama.Detokenize(ids), t.Decode(ids));
        Assert.Equal("<0x0A>", t.TokenLabel(B(0x0A)));
        Assert.Equal("A", t.TokenLabel(B('A')));
        Assert.Equal("▁t", t.TokenLabel(259));
        Assert.Equal("<s>", t.TokenLabel(1));
    }

    /// <summary>
    /// Second oracle for the llama2.c path: Microsoft.ML.Tokenizers on the original SentencePiece model file.
    /// That model keeps SentencePiece's default remove_extra_whitespaces=true (it collapses runs of spaces and trims
    /// the ends; llama.cpp does not), so only texts without leading, trailing or repeated spaces are compared.
    /// </summary>
    [Fact]
    public void Llama2cMatchesSentencePieceModelFile()
    {
        using var stream = File.OpenRead(TestPaths.Stories260KSentencePiece);
        var sp = LlamaTokenizer.Create(stream, addBeginOfSentence: true, addEndOfSentence: false);
        var texts = TokenizerTestTexts.Varied.Concat(TokenizerTestTexts.MobyDickParagraphs(30))
            .Where(s => s.Length > 1 && !s.StartsWith(' ') && !s.EndsWith(' ') && !s.Contains("  ") && !s.Contains('<'))
            .ToList();
        Assert.True(texts.Count >= 50);
        foreach (var text in texts)
            Assert.Equal(sp.EncodeToIds(text), Llama2c.Value.Encode(text, addBos: true));
    }

    [Fact]
    public void SpecialPiecesInTextAreParsedOnlyWhenAsked()
    {
        var t = Llama2c.Value;
        Assert.Equal([1, 1], t.Encode("<s>", addBos: true).Take(2));
        Assert.DoesNotContain(1, t.Encode("<s>", addBos: false, parseSpecial: false));
    }

    private static IReadOnlyDictionary<string, object> StoriesMetadata()
    {
        using var file = HeadWise.Formats.Gguf.GgufFile.Open(TestPaths.Stories260KGguf);
        return file.Metadata;
    }
}
