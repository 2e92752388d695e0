using HeadWise.Eval;
using HeadWise.Eval.Tasks;
using HeadWise.Prompts;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in TaskGrid's seed mix): each (length, depth, sample) cell draws from its own generator,
/// seeded by a fixed function of --seed and the cell, so a published seed gives the same prompts in every process and
/// version, and no two cells of a grid repeat one prompt. Passkey prompts on a word vocabulary: the pass key is the
/// cell generator's first draw.
/// </summary>
public class TaskGridSeedTests
{
    /// <summary>
    /// Expected values computed by hand (Python) from the documented mix: h = seed x 1,000,003 + length x 7,919 +
    /// depth x 104,729 + sample x 15,485,863 in 64 bits, folded as h ^ (h >> 31), low 31 bits. E.g. (1, 100, 0, 0):
    /// 1,000,003 + 791,900 = 1,791,903 (below 2^31, nothing to fold).
    /// </summary>
    [Theory]
    [InlineData(1, 100, 0, 0, 1_791_903)]
    [InlineData(7, 2048, 3, 5, 100_961_635)]
    [InlineData(123456, 300, 2, 9, 1_191_760_348)]   // h above 2^31: the fold changes low bits
    [InlineData(-50, 100, 1, 2, 18_131_794)]         // a negative --seed: h < 0
    public void The_seed_mix_of_a_cell_is_fixed(int seed, int length, int depth, int sample, int expected) =>
        Assert.Equal(expected, TaskGrid.Mix(seed, length, depth, sample));

    [Fact]
    public void Every_length_depth_and_sample_of_a_grid_draws_its_own_pass_key()
    {
        var o = new TaskOptions { Lengths = [200, 260], Depths = [0.2, 0.7], Samples = 3, Seed = 3 };
        var samples = TaskRegistry.Create("passkey").Generate(new WordTokenizer(), o);
        Assert.Equal(2 * 2 * 3, samples.Count);
        int i = 0;
        foreach (var length in o.Lengths)
            for (int d = 0; d < o.Depths.Count; d++)
                for (int s = 0; s < o.Samples; s++, i++)
                {
                    Assert.Equal((length, o.Depths[d]), (samples[i].Length, samples[i].Depth!.Value));
                    // The filler holds no digits: the first draw's key is present once, so the first draw is kept.
                    Assert.Equal(new Random(TaskGrid.Mix(3, length, d, s)).Next(10000, 100000).ToString(), samples[i].Answer);
                }
        Assert.Equal(samples.Count, samples.Select(s => s.Answer).Distinct().Count());
    }

    /// <summary>
    /// A vocabulary whose decoded text repeats itself: every draw holds its answer twice, so the task draws 20 times
    /// more and keeps the 21st draw (it gives up instead of looping). Each passkey draw takes two numbers from the
    /// cell's generator: the key, then the filler's first sentence.
    /// </summary>
    [Fact]
    public void A_needle_task_keeps_its_21st_draw_when_every_draw_holds_the_answer_twice()
    {
        var o = new TaskOptions { Lengths = [200], Samples = 2, Seed = 9 };
        var run = Task.Run(() => TaskRegistry.Create("passkey").Generate(new EchoTokenizer(), o));
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "the task never gave up drawing");
        for (int s = 0; s < 2; s++)
        {
            var rng = new Random(TaskGrid.Mix(9, 200, 0, s));
            for (int attempt = 0; attempt < 20; attempt++) { rng.Next(10000, 100000); rng.Next(PromptWording.PasskeyFiller.Count); }
            Assert.Equal(rng.Next(10000, 100000).ToString(), run.Result[s].Answer);
        }
    }

    private sealed class EchoTokenizer : HeadWise.Tokenizers.ITokenizer
    {
        private readonly WordTokenizer _words = new();
        public string Kind => "echo";
        public int VocabSize => _words.VocabSize;
        public int? BosId => _words.BosId;
        public int? EosId => _words.EosId;
        public bool AddBosByDefault => true;
        public IReadOnlyList<int> Encode(string text, bool addBos) => _words.Encode(text, addBos);
        public string Decode(IEnumerable<int> ids) { var t = _words.Decode(ids); return t + " " + t; }
        public string TokenLabel(int id) => _words.TokenLabel(id);
    }
}
