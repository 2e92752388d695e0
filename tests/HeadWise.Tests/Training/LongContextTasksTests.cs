using System.Text.RegularExpressions;
using HeadWise.Training;

namespace HeadWise.Tests.Training;

public class LongContextTasksTests
{
    private static readonly Lazy<(HeadWise.Tokenizers.ByteLevelBpeTokenizer Tok, int[] Text)> Setup = new(() =>
    {
        var text = File.ReadAllText(TestPaths.MobyDick)[..80_000];
        var tok = BpeTrainer.Train(text, 400).CreateTokenizer();
        return (tok, tok.Encode(text, addBos: false).ToArray());
    });

    private static (LongContextTasks Tasks, HeadWise.Tokenizers.ByteLevelBpeTokenizer Tok) Make()
    {
        var (tok, text) = Setup.Value;
        return (new LongContextTasks(tok, text, 4f), tok);
    }

    /// <summary>The decoded answer positions (weight 4) of a sample.</summary>
    private static string Answer(HeadWise.Tokenizers.ByteLevelBpeTokenizer tok, TrainingSample s) =>
        tok.Decode(Enumerable.Range(0, s.Weights.Length).Where(i => s.Weights[i] == 4f).Select(i => s.Tokens[i + 1]));

    [Fact]
    public void Passkey_samples_have_the_exact_length_and_ask_for_the_key_in_the_needle()
    {
        var (tasks, tok) = Make();
        for (int seed = 0; seed < 20; seed++)
        {
            var s = tasks.Make(SampleKind.Passkey, new Random(seed), 1001)!;
            Assert.Equal(1001, s.Tokens.Length);
            Assert.Equal(1000, s.Weights.Length);
            Assert.Equal(tok.BosId, s.Tokens[0]);
            var text = tok.Decode(s.Tokens);
            // Two needle phrasings: with and without the key repeated.
            var needle = Regex.Match(text, @"The pass key is (\d+)\. Remember it\.( (\d+) is the pass key\.)?");
            Assert.True(needle.Success, text);
            if (needle.Groups[2].Success) Assert.Equal(needle.Groups[1].Value, needle.Groups[3].Value);
            Assert.EndsWith($"What is the pass key? The pass key is {needle.Groups[1].Value}.", text);
            Assert.Equal(" " + needle.Groups[1].Value, Answer(tok, s));
        }
    }

    [Fact]
    public void Niah_single_needle_answer_is_the_needle_number_and_kv_answers_are_the_listed_values()
    {
        var (tasks, tok) = Make();
        var s = tasks.Make(SampleKind.Niah, new Random(3), 700, niahStyle: 0)!;
        var text = tok.Decode(s.Tokens);
        var number = Regex.Match(text, @"The special magic number is: (\d+)\.").Groups[1].Value;
        Assert.NotEmpty(number);
        Assert.Equal(" " + number, Answer(tok, s));

        var kv = tasks.Make(SampleKind.KvRetrieval, new Random(5), 700)!;
        var kvText = tok.Decode(kv.Tokens);
        var pairs = Regex.Matches(kvText, @"^([a-z]+) = (\d+)$", RegexOptions.Multiline).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var queries = Regex.Matches(kvText, @"The value of ([a-z]+) is (\d+)").ToList();
        Assert.True(queries.Count >= 2 && pairs.Count >= 2);
        Assert.All(queries, q => Assert.Equal(pairs[q.Groups[1].Value], q.Groups[2].Value));
        Assert.Equal(string.Concat(queries.Select(q => " " + q.Groups[2].Value)), Answer(tok, kv));
    }

    [Fact]
    public void Copy_samples_weigh_only_a_run_that_appeared_earlier_with_or_without_a_separator()
    {
        var (tasks, tok) = Make();
        var sep = tok.Encode(LongContextTasks.CopySeparator, addBos: false).ToArray();
        int withSeparator = 0, recall = 0;
        for (int seed = 0; seed < 30; seed++)
        {
            var s = tasks.Make(SampleKind.Copy, new Random(seed), 513)!;
            Assert.Equal(513, s.Tokens.Length);
            int first = Array.FindIndex(s.Weights, w => w == 4f) + 1;   // token index of the answer's start
            int n = s.Weights.Count(w => w == 4f);
            Assert.Equal(n, s.Weights.Skip(first - 1).TakeWhile(w => w == 4f).Count());   // one contiguous answer run
            var answer = s.Tokens[first..(first + n)];
            if (s.Tokens[(first - sep.Length)..first].SequenceEqual(sep))
            {
                withSeparator++;
                Assert.Equal(answer, s.Tokens[(first - sep.Length - n)..(first - sep.Length)]);
            }
            else
            {
                // Recall: a cue of at least 2 tokens, then the answer; cue and answer occurred together before.
                recall++;
                var cueAndAnswer = s.Tokens[(first - 2)..(first + n)];
                Assert.Contains(Enumerable.Range(1, first - n - 2), j => s.Tokens[j..(j + n + 2)].SequenceEqual(cueAndAnswer));
            }
        }
        Assert.True(withSeparator > 0 && recall > 0, $"{withSeparator} with a separator, {recall} recall samples");
    }

    [Fact]
    public void Niah_fact_needles_ask_for_the_phrase_the_needle_gave_for_that_city()
    {
        var (tasks, tok) = Make();
        for (int seed = 0; seed < 10; seed++)
        {
            var s = tasks.Make(SampleKind.Niah, new Random(seed), 700, niahStyle: LongContextTasks.NiahPhraseStyle)!;
            var text = tok.Decode(s.Tokens);
            var asked = Regex.Match(text, @"What is the best thing to do in ([A-Za-z ]+)\? The best thing to do in \1( is to| is)");
            Assert.True(asked.Success, text);
            var answer = Answer(tok, s);
            // The needle, before the question, states the very phrase the answer positions hold.
            Assert.Contains($"The best thing to do in {asked.Groups[1].Value}{asked.Groups[2].Value}{answer}.", text[..asked.Index]);
        }
    }

    [Fact]
    public void Several_fact_samples_ask_each_city_once_for_its_own_phrase_weighed_by_the_niah_answer_weight()
    {
        var (tok, text) = Setup.Value;
        var tasks = new LongContextTasks(tok, text, 4f, niahAnswerWeight: 9f, niahFacts: 4);
        var counts = new HashSet<int>();
        for (int seed = 0; seed < 30; seed++)
        {
            var s = tasks.Make(SampleKind.Niah, new Random(seed), 1500, niahStyle: LongContextTasks.NiahPhraseStyle)!;
            var decoded = tok.Decode(s.Tokens);
            var questions = Regex.Matches(decoded, @"\nWhat is the best thing to do in ([A-Za-z ]+)\? The best thing to do in \1( is to| is)").ToList();
            counts.Add(questions.Count);
            Assert.Equal(questions.Count, questions.Select(q => q.Groups[1].Value).Distinct().Count());
            Assert.DoesNotContain(s.Weights, w => w == 4f);
            // The weight-9 positions form one run per question, in order; each run is the phrase that city's needle gave.
            var weighted = Enumerable.Range(0, s.Weights.Length).Where(i => s.Weights[i] == 9f).ToList();
            var runs = weighted.Select((pos, k) => (pos, k)).GroupBy(x => x.pos - x.k)
                .Select(g => tok.Decode(g.Select(x => s.Tokens[x.pos + 1]))).ToList();
            Assert.Equal(questions.Count, runs.Count);
            var haystack = decoded[..questions[0].Index];
            for (int q = 0; q < questions.Count; q++)
                Assert.Contains($"The best thing to do in {questions[q].Groups[1].Value}{questions[q].Groups[2].Value}{runs[q]}.", haystack);
        }
        Assert.Equal([1, 2, 3, 4], counts.Order());
    }

    [Fact]
    public void Niah_phrase_share_decides_how_many_niah_samples_are_phrase_facts()
    {
        var (tok, text) = Setup.Value;
        int Phrases(double? share) => Enumerable.Range(0, 60).Count(seed =>
            tok.Decode(new LongContextTasks(tok, text, 4f, niahPhraseShare: share).Make(SampleKind.Niah, new Random(seed), 700)!.Tokens)
                .Contains("What is the best thing to do in"));
        Assert.Equal(60, Phrases(1));
        Assert.Equal(0, Phrases(0));
        Assert.InRange(Phrases(null), 10, 30);   // the three styles alike: about 20 of 60
    }

    [Fact]
    public void Phrase_answers_hold_invented_words_that_the_training_text_does_not()
    {
        var (tasks, tok) = Make();
        var words = Regex.Matches(tok.Decode(Setup.Value.Text), "[A-Za-z]+").Select(m => m.Value).ToHashSet();
        int invented = 0;
        for (int seed = 0; seed < 30; seed++)
        {
            var answer = Answer(tok, tasks.Make(SampleKind.Niah, new Random(seed), 700, niahStyle: LongContextTasks.NiahPhraseStyle)!);
            // Invented words are consonant-vowel syllables; count the ones the text never has as a whole word.
            invented += Regex.Matches(answer, @"(?<![A-Za-z])(?:[bcdfghklmnprstvz][aeiou]){2,3}(?![A-Za-z])")
                .Count(m => !words.Contains(m.Value));
        }
        Assert.InRange(invented, 20, 70);   // 0-3 per phrase: about 45 in 30
    }

    [Fact]
    public void Too_short_a_sequence_gives_no_sample_and_the_mixer_falls_back_to_text()
    {
        var (tasks, _) = Make();
        Assert.Null(tasks.Make(SampleKind.Passkey, new Random(1), 20));
        var mixer = new DataMixer(TinyTraining.Config() with { Curriculum = [new() { FromStep = 0, SeqLen = 20, Batch = 8 }], Mix = new TaskMix { Text = 0, Passkey = 1, Niah = 0, KvRetrieval = 0, Copy = 0 } }, tasks);
        using var b = mixer.Batch(0);
        Assert.All(b.Kinds, k => Assert.Equal(SampleKind.Text, k));
        Assert.Equal([8L, 20L], b.Inputs.shape);
    }

    [Fact]
    public void A_phase_with_its_own_mix_draws_only_from_it_and_later_phases_fall_back_to_the_config_mix()
    {
        var (tasks, _) = Make();
        var copyOnly = new TaskMix { Text = 0, Passkey = 0, Niah = 0, KvRetrieval = 0, Copy = 1 };
        var c = TinyTraining.Config() with
        {
            Mix = new TaskMix { Text = 1, Passkey = 0, Niah = 0, KvRetrieval = 0, Copy = 0 },
            Curriculum = [new() { FromStep = 0, SeqLen = 64, Batch = 8, Mix = copyOnly, CopyRepeatShare = 1 }, new() { FromStep = 5, SeqLen = 64, Batch = 8 }],
        };
        var mixer = new DataMixer(c, tasks);
        using var first = mixer.Batch(0);
        using var later = mixer.Batch(5);
        Assert.All(first.Kinds, k => Assert.Equal(SampleKind.Copy, k));
        Assert.All(later.Kinds, k => Assert.Equal(SampleKind.Text, k));
        // copy_repeat_share 1 in the phase: every row is BOS + a unit repeated, so token 1 comes back within 61 tokens.
        var rows = first.Inputs.data<long>().ToArray();
        for (int r = 0; r < 8; r++)
        {
            var row = rows[(r * 64)..((r + 1) * 64)];
            Assert.Contains(row[1], row[5..62]);
        }
    }

    [Fact]
    public void Batches_depend_only_on_seed_and_step()
    {
        var (tasks, _) = Make();
        var c = TinyTraining.Config();
        using var a = new DataMixer(c, tasks).Batch(7);
        using var b = new DataMixer(c, tasks).Batch(7);
        using var other = new DataMixer(c, tasks).Batch(8);
        Assert.True(a.Inputs.equal(b.Inputs).all().item<bool>());
        Assert.True(a.Weights.equal(b.Weights).all().item<bool>());
        Assert.False(a.Inputs.equal(other.Inputs).all().item<bool>());
        // Targets are the inputs shifted by one.
        Assert.True(a.Inputs[.., 1..].equal(a.Targets[.., ..^1]).all().item<bool>());
    }
}

public class CopyRepeatTests
{
    [Fact]
    public void Repeat_samples_repeat_one_unit_from_the_restricted_vocabulary()
    {
        var text = File.ReadAllText(TestPaths.MobyDick)[..80_000];
        var tok = BpeTrainer.Train(text, 400).CreateTokenizer();
        var tasks = new LongContextTasks(tok, tok.Encode(text, addBos: false).ToArray(), 4f, copyRepeatShare: 1, randomVocab: 50);
        var s = tasks.Make(SampleKind.Copy, new Random(2), 300)!;
        Assert.Equal(300, s.Tokens.Length);
        int firstAnswer = Array.FindIndex(s.Weights, w => w == 4f) + 1;   // token index where the first repeat starts
        int unit = firstAnswer - 1;                                       // BOS, then one unit
        var u = s.Tokens[1..firstAnswer];
        Assert.All(u, t => Assert.InRange(t, 258, 258 + 49));
        int repeats = s.Weights.Count(w => w == 4f) / unit;
        Assert.True(repeats >= 3, $"{repeats} repeats of {unit} tokens");
        for (int r = 0; r < repeats; r++) Assert.Equal(u, s.Tokens[(firstAnswer + r * unit)..(firstAnswer + (r + 1) * unit)]);
    }
}
