using HeadWise.Eval;
using HeadWise.Eval.Tasks;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in CopyTask's token pool): the copy task draws only ordinary text pieces, never BOS,
/// EOS, whitespace-only, replacement-character (byte fallback) or control-character pieces, and two such pieces are
/// enough. A vocabulary written for it: exactly two ordinary pieces, "a" and "b", among one of each other kind.
/// The context is BOS and the first copy; the repeat is scored after it. Copy has no depth axis: one sample per
/// length and sample index whatever depths are given.
/// </summary>
public class CopyPoolTests
{
    [Fact]
    public void Copy_draws_only_ordinary_text_pieces_and_two_are_enough()
    {
        var samples = TaskRegistry.Create("copy").Generate(new PieceTokenizer(), new TaskOptions { Lengths = [81], Depths = [0.2, 0.8], Samples = 3, Seed = 5 });
        Assert.Equal(3, samples.Count);
        foreach (var s in samples)
        {
            Assert.Equal(81, s.Tokens.Length);
            Assert.Null(s.Depth);
            Assert.Equal((41, 41), (s.ContextEnd, s.ScoredFrom));
            Assert.Equal(0, s.Tokens[0]);   // BOS first, then 40 + 40 drawn pieces
            Assert.All(s.Tokens[1..], t => Assert.Contains(t, new[] { 2, 3 }));
            Assert.Equal(s.Tokens[1..41], s.Tokens[41..]);
        }
        // Both pieces are drawn (not a pool of one).
        Assert.Equal([2, 3], samples.SelectMany(s => s.Tokens[1..]).Distinct().Order());
    }

    /// <summary>
    /// copy-shuffled draws the 40 pieces, then one random key per piece, and repeats the pieces in ascending key order
    /// (a uniform permutation); replayed here from the cell's generator.
    /// </summary>
    [Fact]
    public void Copy_shuffled_repeats_the_pieces_in_the_order_of_their_drawn_keys()
    {
        var samples = TaskRegistry.Create("copy-shuffled").Generate(new PieceTokenizer(), new TaskOptions { Lengths = [81], Samples = 2, Seed = 5 });
        for (int s = 0; s < 2; s++)
        {
            var rng = new Random(TaskGrid.Mix(5, 81, 0, s));
            var pieces = Enumerable.Range(0, 40).Select(_ => 2 + rng.Next(2)).ToArray();
            var keys = pieces.Select(_ => rng.Next()).ToArray();
            int[] expected = [0, .. pieces, .. Enumerable.Range(0, 40).OrderBy(i => keys[i]).Select(i => pieces[i])];
            Assert.Equal(expected, samples[s].Tokens);
            Assert.Equal((41, 41), (samples[s].ContextEnd, samples[s].ScoredFrom));
        }
    }

    /// <summary>0 BOS, 1 EOS, 2 "a", 3 "b", 4 " ", 5 U+FFFD, 6 "\n", 7 "c\n", 8 "d\uFFFD", 9 "\t ".</summary>
    private sealed class PieceTokenizer : ITokenizer
    {
        private static readonly string[] Pieces = ["<s>", "</s>", "a", "b", " ", "\uFFFD", "\n", "c\n", "d\uFFFD", "\t "];
        public string Kind => "pieces";
        public int VocabSize => Pieces.Length;
        public int? BosId => 0;
        public int? EosId => 1;
        public bool AddBosByDefault => true;
        public IReadOnlyList<int> Encode(string text, bool addBos) => addBos ? [0, 2] : [2];
        // Special tokens are dropped, as ITokenizer.Decode says.
        public string Decode(IEnumerable<int> ids) => string.Concat(ids.Where(i => i > 1).Select(i => Pieces[i]));
        public string TokenLabel(int id) => Pieces[id];
    }
}
