using System.Text.RegularExpressions;
using HeadWise.Prompts;
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

    internal static TrainConfig Config => TinyTraining.Config() with { AnswerWeight = 4 };

    private static (LongContextTasks Tasks, HeadWise.Tokenizers.ByteLevelBpeTokenizer Tok) Make(TrainConfig? config = null)
    {
        var (tok, text) = Setup.Value;
        return (new LongContextTasks(tok, text, config ?? Config), tok);
    }

    /// <summary>The decoded answer tokens (the sample's answer mask) of a sample.</summary>
    private static string Answer(HeadWise.Tokenizers.ByteLevelBpeTokenizer tok, TrainingSample s) =>
        tok.Decode(s.AnswerPositions().Select(i => s.Tokens[i + 1]));

    /// <summary>The answer runs of a sample, decoded, in order.</summary>
    private static List<string> AnswerRuns(HeadWise.Tokenizers.ByteLevelBpeTokenizer tok, TrainingSample s) =>
        s.AnswerPositions().Select((pos, k) => (pos, k)).GroupBy(x => x.pos - x.k).Select(g => tok.Decode(g.Select(x => s.Tokens[x.pos + 1]))).ToList();

    [Fact]
    public void Passkey_samples_have_the_exact_length_and_ask_for_the_key_in_the_needle()
    {
        var (tasks, tok) = Make();
        for (int seed = 0; seed < 30; seed++)
        {
            var s = tasks.Make(SampleKind.Passkey, new Random(seed), 1001)!;
            Assert.Equal(1001, s.Tokens.Length);
            Assert.Equal(1000, s.Weights.Length);
            Assert.Equal(1000, s.Answer.Length);
            Assert.Equal(tok.BosId, s.Tokens[0]);
            var text = tok.Decode(s.Tokens);
            var question = Regex.Match(text, @"(What is the pass key\?|What was the pass key\?|Which pass key was hidden in the text\?) The pass key is (\d+)\.$");
            Assert.True(question.Success, text);
            var key = question.Groups[2].Value;
            // The needle states that key before the question, in one of the phrasings.
            Assert.Matches($@"(pass key is {key}\.|pass key: {key}\.)", text[..question.Index]);
            Assert.Equal(" " + key, Answer(tok, s));
            Assert.All(s.AnswerPositions(), t => Assert.Equal(4f, s.Weights[t]));
        }
    }

    [Fact]
    public void The_answer_mask_marks_answers_even_when_they_weigh_like_text()
    {
        // With answer weight 1 the loss weights cannot tell answers from text: the mask still does.
        var (tasks, tok) = Make(Config with { AnswerWeight = 1 });
        var s = tasks.Make(SampleKind.Passkey, new Random(4), 600)!;
        Assert.All(s.Weights, w => Assert.Equal(1f, w));
        var key = Regex.Match(tok.Decode(s.Tokens), @"The pass key is (\d+)\.$").Groups[1].Value;
        Assert.Equal(" " + key, Answer(tok, s));
    }

    [Fact]
    public void Niah_single_needle_answer_is_the_needle_number_and_kv_answers_are_the_listed_values()
    {
        var (tasks, tok) = Make();
        for (int seed = 0; seed < 10; seed++)
        {
            var s = tasks.Make(SampleKind.Niah, new Random(seed), 700, NeedleStyle.MagicNumber)!;
            var text = tok.Decode(s.Tokens);
            var number = Regex.Match(text, @"special magic number(?: is)?:? (\d+)\.").Groups[1].Value;
            Assert.NotEmpty(number);
            Assert.Equal(" " + number, Answer(tok, s));
            Assert.EndsWith($" {number}.", text);
        }

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
            var positions = s.AnswerPositions();
            int first = positions[0] + 1;   // token index of the answer's start
            int n = positions.Length;
            Assert.Equal(Enumerable.Range(first - 1, n), positions);   // one contiguous answer run
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

    private static readonly Regex FactQuestion = new(@"(?:What is the best thing to do in|What should you do in) ([A-Za-z ]+)\? The best thing to do in \1( is to| is)");

    [Fact]
    public void Fact_needles_ask_for_the_phrase_the_needle_gave_for_that_place()
    {
        var (tasks, tok) = Make();
        for (int seed = 0; seed < 20; seed++)
        {
            var s = tasks.Make(SampleKind.Niah, new Random(seed), 700, NeedleStyle.Fact)!;
            var text = tok.Decode(s.Tokens);
            var asked = FactQuestion.Match(text);
            Assert.True(asked.Success, text);
            var phrase = AnswerRuns(tok, s)[0];
            // The needle, before the question, names the same place and gives the very phrase the answer positions hold.
            var place = Regex.Escape(asked.Groups[1].Value);
            Assert.Matches($@"(in {place} is( to)?|In {place}, the best thing to do is to|If you visit {place}, the best thing to do is to){Regex.Escape(phrase)}\.", text[..asked.Index]);
        }
    }

    [Fact]
    public void Several_fact_samples_ask_each_place_once_for_its_own_phrase_weighed_by_the_niah_answer_weight()
    {
        var (tasks, tok) = Make(Config with { NiahAnswerWeight = 9, NiahFacts = 4 });
        var counts = new HashSet<int>();
        for (int seed = 0; seed < 40; seed++)
        {
            var s = tasks.Make(SampleKind.Niah, new Random(seed), 1500, NeedleStyle.Fact)!;
            var decoded = tok.Decode(s.Tokens);
            var questions = FactQuestion.Matches(decoded).ToList();
            counts.Add(questions.Count);
            Assert.Equal(questions.Count, questions.Select(q => q.Groups[1].Value).Distinct().Count());
            Assert.All(s.AnswerPositions(), t => Assert.Equal(9f, s.Weights[t]));
            var runs = AnswerRuns(tok, s);
            Assert.Equal(questions.Count, runs.Count);
            var haystack = decoded[..questions[0].Index];
            for (int q = 0; q < questions.Count; q++)
                Assert.Contains($"{questions[q].Groups[1].Value}", haystack);
            for (int q = 0; q < questions.Count; q++)
                Assert.Contains(runs[q] + ".", haystack);
        }
        Assert.Equal([1, 2, 3, 4], counts.Order());
    }

    [Fact]
    public void Keyed_samples_answer_each_asked_key_with_its_own_number_among_distractors_sharing_words()
    {
        var (tasks, tok) = Make(Config with { NiahFacts = 5 });
        int shared = 0, asked = 0;
        for (int seed = 0; seed < 60; seed++)
        {
            var s = tasks.Make(SampleKind.Niah, new Random(seed), 1200, NeedleStyle.Keyed)!;
            var text = tok.Decode(s.Tokens);
            var firstQuestion = Regex.Match(text, @"\? The (?:special )?magic number");
            Assert.True(firstQuestion.Success, text);
            var needles = Regex.Matches(text[..firstQuestion.Index], @"(?:special magic numbers? for|magic number of) ([a-z]+(?:-[a-z]+)?) is:? (\d+)\.").ToList();
            var values = needles.ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            Assert.InRange(values.Count, 1, 5);
            var questions = Regex.Matches(text, @"(?:number for|number of) ([a-z]+(?:-[a-z]+)?)(?: mentioned in the (?:provided )?text)?\? The (?:special )?magic number (?:for|of) \1(?: mentioned in the (?:provided )?text)? is (\d+)\.").ToList();
            Assert.NotEmpty(questions);
            var runs = AnswerRuns(tok, s);
            Assert.Equal(questions.Count, runs.Count);
            for (int q = 0; q < questions.Count; q++)
            {
                Assert.Equal(values[questions[q].Groups[1].Value], questions[q].Groups[2].Value);
                Assert.Equal(" " + questions[q].Groups[2].Value, runs[q]);
            }
            asked += questions.Count;
            var words = values.Keys.SelectMany(k => k.Split('-')).ToList();
            if (words.Count != words.Distinct().Count()) shared++;
        }
        Assert.True(shared >= 15, $"only {shared} of 60 samples have keys sharing a word");
        Assert.True(asked > 60, $"{asked} questions in 60 samples: several keys should often be asked");
    }

    [Fact]
    public void Niah_styles_decide_how_many_niah_samples_are_of_each_style()
    {
        var (tok, text) = Setup.Value;
        int Facts(NeedleMix mix) => Enumerable.Range(0, 60).Count(seed =>
            FactQuestion.IsMatch(tok.Decode(new LongContextTasks(tok, text, Config with { NiahStyles = mix }).Make(SampleKind.Niah, new Random(seed), 700)!.Tokens)));
        Assert.Equal(60, Facts(new NeedleMix { MagicNumber = 0, Keyed = 0, Fact = 1 }));
        Assert.Equal(0, Facts(new NeedleMix { MagicNumber = 1, Keyed = 1, Fact = 0 }));
        Assert.InRange(Facts(new NeedleMix()), 10, 30);   // the three styles alike: about 20 of 60
    }

    [Fact]
    public void Phrase_answers_hold_invented_words_that_the_training_text_does_not()
    {
        var (tasks, tok) = Make();
        var words = Regex.Matches(tok.Decode(Setup.Value.Text), "[A-Za-z]+").Select(m => m.Value).ToHashSet();
        int invented = 0;
        for (int seed = 0; seed < 30; seed++)
        {
            var answer = Answer(tok, tasks.Make(SampleKind.Niah, new Random(seed), 700, NeedleStyle.Fact)!);
            // Invented words are consonant-vowel syllables; count the ones the text never has as a whole word.
            invented += Regex.Matches(answer, @"(?<![A-Za-z])(?:[bcdfghklmnprstvz][aeiou]){2,3}(?![A-Za-z])")
                .Count(m => !words.Contains(m.Value));
        }
        Assert.InRange(invented, 20, 70);   // 0-3 per phrase: about 45 in 30
    }

    [Fact]
    public void Training_asks_in_more_phrasings_than_the_evaluation_and_in_the_evaluations_own()
    {
        var (tasks, tok) = Make();
        var texts = Enumerable.Range(0, 200).Select(seed => tok.Decode(tasks.Make(SampleKind.Passkey, new Random(seed), 400)!.Tokens)).ToList();
        var eval = PromptWording.Passkey.EvaluationForm;
        Assert.Contains(texts, t => Regex.IsMatch(t, @"The pass key is \d+\. Remember it\. (?!\d)"));   // the evaluation's needle
        Assert.Contains(texts, t => t.Contains(PromptWording.Passkey.EvaluationIntro));
        Assert.Contains(texts, t => t.Contains(" " + eval.QuestionFor("")));
        var questions = PromptWording.Passkey.Forms.Select(f => f.QuestionFor("")).Distinct().ToList();
        Assert.True(questions.Count > 1);
        Assert.All(questions, q => Assert.Contains(texts, t => t.Contains(q)));
        var intros = PromptWording.Passkey.Intros.Where(i => i.Length > 0).ToList();
        Assert.All(intros, i => Assert.Contains(texts, t => t.Contains(i)));
        Assert.Contains(texts, t => t.Contains("Keep it in mind."));   // a phrasing the evaluation never uses
    }

    [Fact]
    public void Training_contents_are_never_the_evaluations()
    {
        var evalPlaces = PromptWording.EvaluationFacts.Select(f => f.Place).ToHashSet();
        Assert.Empty(LongContextTasks.Places.Where(evalPlaces.Contains));
        Assert.Empty(LongContextTasks.KeyAdjectives.Intersect(PromptWording.EvaluationKeyAdjectives.Concat(PromptWording.EvaluationKeyNouns)));
        Assert.Empty(LongContextTasks.KeyNouns.Intersect(PromptWording.EvaluationKeyAdjectives.Concat(PromptWording.EvaluationKeyNouns)));
        var (tasks, tok) = Make(Config with { NiahFacts = 4 });
        var evalWords = PromptWording.EvaluationKeyAdjectives.Concat(PromptWording.EvaluationKeyNouns).ToHashSet();
        for (int seed = 0; seed < 40; seed++)
        {
            var keyed = tok.Decode(tasks.Make(SampleKind.Niah, new Random(seed), 900, NeedleStyle.Keyed)!.Tokens);
            foreach (Match m in Regex.Matches(keyed, @"(?:numbers? for|number of) ([a-z]+(?:-[a-z]+)?) is"))
                Assert.DoesNotContain(m.Groups[1].Value.Split('-'), evalWords.Contains);
            var facts = tok.Decode(tasks.Make(SampleKind.Niah, new Random(seed), 900, NeedleStyle.Fact)!.Tokens);
            foreach (Match m in FactQuestion.Matches(facts)) Assert.DoesNotContain(m.Groups[1].Value, evalPlaces);
        }
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
    public void A_phase_with_min_seq_len_draws_each_steps_length_in_range_with_about_the_same_tokens()
    {
        var (tasks, _) = Make();
        var c = TinyTraining.Config() with { Curriculum = [new() { FromStep = 0, SeqLen = 128, Batch = 4, MinSeqLen = 32 }] };
        var mixer = new DataMixer(c, tasks);
        var lengths = new HashSet<int>();
        for (int step = 0; step < 40; step++)
        {
            using var b = mixer.Batch(step);
            Assert.InRange(b.SeqLen, 32, 128);
            Assert.Equal(b.SeqLen, (int)b.Targets.shape[1]);
            Assert.InRange(b.Rows * b.SeqLen, 512 * 0.8, 512 * 1.2);   // batch x seq_len = 512 tokens a step
            lengths.Add(b.SeqLen);
            using var again = mixer.Batch(step);
            Assert.Equal(b.Inputs.shape, again.Inputs.shape);
        }
        Assert.True(lengths.Count > 20, $"only {lengths.Count} distinct lengths in 40 steps");
        Assert.Contains(lengths, l => l < 60);
        Assert.Contains(lengths, l => l > 100);
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
        var tasks = new LongContextTasks(tok, tok.Encode(text, addBos: false).ToArray(), LongContextTasksTests.Config with { CopyRepeatShare = 1, CopyRandomVocab = 50 });
        var s = tasks.Make(SampleKind.Copy, new Random(2), 300)!;
        Assert.Equal(300, s.Tokens.Length);
        int firstAnswer = s.AnswerPositions()[0] + 1;   // token index where the first repeat starts
        int unit = firstAnswer - 1;                     // BOS, then one unit
        var u = s.Tokens[1..firstAnswer];
        Assert.All(u, t => Assert.InRange(t, 258, 258 + 49));
        int repeats = s.AnswerPositions().Length / unit;
        Assert.True(repeats >= 3, $"{repeats} repeats of {unit} tokens");
        for (int r = 0; r < repeats; r++) Assert.Equal(u, s.Tokens[(firstAnswer + r * unit)..(firstAnswer + (r + 1) * unit)]);
    }
}
