using HeadWise.Eval.Tasks;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in SegmentEncoder): a piece encoded on its own must read as a separate word after
/// other text, without BOS. A SentencePiece-style vocabulary marks word starts itself ("▁word"; a leading space would
/// add a lone "▁"), so pieces are encoded as they are; a GPT-2-style byte-level vocabulary joins pieces without a
/// space ("Yes" + "no" decodes "Yesno"), so each piece gets a leading space (" word" tokens). Two small vocabularies
/// written for this, one of each kind.
/// </summary>
public class SegmentEncoderSpaceTests
{
    [Fact]
    public void A_sentencepiece_vocabulary_gets_its_pieces_as_they_are()
    {
        var tok = new PieceVocabulary(sentencePiece: true);
        var ids = new SegmentEncoder(tok).Encode("Call me Ishmael");
        Assert.Equal(["▁Call", "▁me", "▁Ishmael"], ids.Select(tok.TokenLabel));
    }

    [Fact]
    public void A_byte_level_vocabulary_gets_a_leading_space_on_each_piece()
    {
        var tok = new PieceVocabulary(sentencePiece: false);
        var enc = new SegmentEncoder(tok);
        var ids = enc.Encode("Call me Ishmael");
        Assert.Equal([" Call", " me", " Ishmael"], ids.Select(tok.TokenLabel));
        Assert.Equal("Some years ago Call me", tok.Decode([.. tok.Encode("Some years ago", false), .. enc.Encode("Call me")]));
    }

    /// <summary>
    /// Word-level pieces. SentencePiece style: each word is "▁word", a leading space adds a lone "▁", decoding turns "▁"
    /// into spaces and drops the first. Byte-level style: " ?word" chunks, decoded by plain concatenation.
    /// 0 BOS, 1 EOS; special tokens decode to nothing.
    /// </summary>
    private sealed class PieceVocabulary(bool sentencePiece) : ITokenizer
    {
        private readonly List<string> _pieces = ["<s>", "</s>"];
        public string Kind => sentencePiece ? "sp" : "bpe";
        public int VocabSize => 4096;
        public int? BosId => 0;
        public int? EosId => 1;
        public bool AddBosByDefault => true;

        public IReadOnlyList<int> Encode(string text, bool addBos)
        {
            var ids = new List<int>();
            if (addBos) ids.Add(0);
            var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (sentencePiece && text.StartsWith(' ')) ids.Add(Id("▁"));
            for (int i = 0; i < words.Length; i++)
                ids.Add(Id(sentencePiece ? "▁" + words[i] : (i > 0 || text.StartsWith(' ') ? " " : "") + words[i]));
            return ids;
        }

        public string Decode(IEnumerable<int> ids)
        {
            var text = string.Concat(ids.Where(i => i > 1).Select(i => _pieces[i]));
            return sentencePiece ? text.Replace('▁', ' ').TrimStart() : text;
        }

        public string TokenLabel(int id) => _pieces[id];

        private int Id(string piece)
        {
            int id = _pieces.IndexOf(piece);
            if (id < 0) { id = _pieces.Count; _pieces.Add(piece); }
            return id;
        }
    }
}
