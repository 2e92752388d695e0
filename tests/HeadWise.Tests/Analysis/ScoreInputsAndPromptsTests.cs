using System.Text.RegularExpressions;
using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Issue 23 (Stryker's uncovered and surviving mutants in Analysis): the prompts the scores write (multiple-choice
/// letters, DuoAttention's passkey sentences), the parameters they take, and each error they give, checked against
/// texts written here from the papers' formats, not read back from the code.
/// </summary>
public class ScoreInputsAndPromptsTests
{
    private static string Error(Action a) => Assert.Throws<HeadWiseException>(a).Message;

    [Fact]
    public void Multiple_choice_prompts_list_options_a_to_d_then_ask_for_the_answer()
    {
        var tok = new CharTokenizer(300);
        var docs = ConstructedHeads.Probes(tok, 3, 20);
        var set = ChoicePrompt.Build(docs, tok, count: 6, passage: 8, seed: 1);
        Assert.Equal(6, set.Count);
        foreach (var p in set)
        {
            var text = string.Concat(p.Prompt.Select(tok.TokenLabel));
            Assert.Matches(new Regex(@"^<s>(w\d+){8}\nWhich word was in the text\?\nA\.(w\d+)\nB\.(w\d+)\nC\.(w\d+)\nD\.(w\d+)\nAnswer:$"), text);
            // Each option's end is the first token of the next line.
            Assert.All(p.OptionEnds, e => Assert.Equal("\n", tok.TokenLabel(p.Prompt[e])));
        }
        Assert.Equal("multiple-choice prompts need at least 2 probe documents", Error(() => ChoicePrompt.Build(docs.Take(1).ToList(), tok, 1, 8, 1)));
        Assert.Equal("probe documents are too alike to draw multiple-choice distractors",
            Error(() => ChoicePrompt.Build([docs[0], docs[0]], tok, 1, 8, 1)));
    }

    [Fact]
    public void A_rotated_question_moves_each_option_up_by_the_shift_and_the_right_letter_with_it()
    {
        var tok = new CharTokenizer(300);
        var p = ChoicePrompt.Build(ConstructedHeads.Probes(tok, 3, 20), tok, count: 1, passage: 8, seed: 3)[0];
        int Option(ChoicePrompt q, int letter) => q.Prompt[q.OptionEnds[letter] - 1];
        for (int shift = 0; shift < 4; shift++)
        {
            var r = p.Rotated(shift);
            // The line at letter o now holds the option that was at letter o + shift; every other token stays.
            for (int o = 0; o < 4; o++) Assert.Equal(Option(p, (o + shift) % 4), Option(r, o));
            Assert.Equal((p.Gold + 4 - shift) % 4, r.Gold);
            Assert.Equal(Option(p, p.Gold), Option(r, r.Gold));
            var moved = Enumerable.Range(0, p.Prompt.Length).Where(i => p.Prompt[i] != r.Prompt[i]);
            Assert.All(moved, i => Assert.Contains(i + 1, p.OptionEnds));
        }
        // The four rotations put the right option once at each letter.
        Assert.Equal([0, 1, 2, 3], Enumerable.Range(0, 4).Select(s => p.Rotated(s).Gold).Order());
    }

    [Fact]
    public void Qk_select_takes_its_question_count_and_passage_length_and_refuses_anything_else()
    {
        var score = (QkSelectScore)ScoreRegistry.Parse("qk-select", new Dictionary<string, string> { ["qk-select"] = "prompts=200, PASSAGE=16" }).Single();
        Assert.Equal((200, 16), (score.Prompts, score.Passage));
        var defaults = new QkSelectScore();
        Assert.Equal((7, defaults.Passage), (QkSelectScore.Parse("prompts=7").Prompts, QkSelectScore.Parse("prompts=7").Passage));
        Assert.Equal((defaults.Prompts, defaults.Passage), (QkSelectScore.Parse(" ").Prompts, QkSelectScore.Parse(null).Passage));
        Assert.Equal("qk-select: 'steps=5' is not key=value with a known key; keys: prompts, passage", Error(() => QkSelectScore.Parse("steps=5")));
        Assert.Equal("qk-select: 'prompts' is not key=value with a known key; keys: prompts, passage", Error(() => QkSelectScore.Parse("prompts")));
        Assert.Equal("qk-select: prompts='0' must be an integer >= 1", Error(() => QkSelectScore.Parse("prompts=0")));
        Assert.Equal("qk-select: passage='1.5' must be an integer >= 1", Error(() => QkSelectScore.Parse("passage=1.5")));
    }

    [Fact]
    public void Duo_gate_training_parses_every_key_it_documents()
    {
        var t = DuoGateTraining.Parse("steps=3, LR=0.5, l1=0, sinks=0, recent=5, passkeys=2, words=3, min_length=10, max_length=20, lengths=7");
        Assert.Equal((3, 0.5, 0.0, 0, 5, 2, 3, 10, 20, 7),
            (t.Steps, t.LearningRate, t.L1, t.Sinks, t.Recent, t.Passkeys, t.PasskeyWords, t.MinLength, t.MaxLength, t.LengthIntervals));
        Assert.Equal(0.05, DuoGateTraining.Parse("lr=0.1").L1);
        Assert.Equal(0.02, DuoGateTraining.Parse("l1=0.1").LearningRate);
        Assert.Equal(["steps", "lr", "l1", "sinks", "recent", "passkeys", "words", "min_length", "max_length", "lengths"], DuoGateTraining.Keys.Keys);
        // Each help line says what its key sets, with the default in parentheses.
        Assert.All(DuoGateTraining.Keys.Values, h => Assert.Matches(@"^[A-Za-z1 ,]+[a-z] \(.+\)$", h));
        Assert.Equal("duo-gate: lr='-1' must be a number >= 0", Error(() => DuoGateTraining.Parse("lr=-1")));
        Assert.Equal("duo-gate: l1='x' must be a number >= 0", Error(() => DuoGateTraining.Parse("l1=x")));
        Assert.Equal("duo-gate: lr='NaN' must be a number >= 0", Error(() => DuoGateTraining.Parse("lr=NaN")));
        Assert.Equal("duo-gate: l1='Infinity' must be a number >= 0", Error(() => DuoGateTraining.Parse("l1=Infinity")));
    }

    [Fact]
    public void Every_score_has_a_help_line_and_only_decoder_scores_refuse_an_encoder()
    {
        Assert.Equal(ScoreRegistry.Names, ScoreHelp.Lines.Keys);
        // Each line names its source: a paper with its year, or what it is in the spirit of.
        Assert.All(ScoreHelp.Lines.Values, l => Assert.Matches(@"\((.+ )?\d{4}|in the spirit of", l));
        Assert.StartsWith("sink: first-token attention", ScoreHelp.Describe(["sink", "entropy"]));
        Assert.EndsWith("; entropy: mean attention entropy (Zhai et al. 2023)", ScoreHelp.Describe(["sink", "entropy"]));

        var decoder = new ModelSpec { Architecture = "llama", Layers = 1, Dim = 8, Heads = 2, KvHeads = 2, HeadDim = 4, FfnDim = 8, VocabSize = 16, ContextLength = 64 };
        var encoder = decoder with { Architecture = "bert", Causal = false };
        var decoderOnly = new[] { "sensitivity", "qk-select", "retrieval", "retrieval-reasoning", "attention-influence", "duo-gate" };
        foreach (var score in ScoreRegistry.All())
        {
            Assert.Null(score.Unsupported(decoder));
            var reason = score.Unsupported(encoder);
            if (decoderOnly.Contains(score.Name)) Assert.EndsWith("(decoder models only)", reason);
            else Assert.Null(reason);
        }
    }

    [Fact]
    public void Duo_training_samples_hide_each_ordinal_passkey_once_and_ask_for_them_in_order()
    {
        string[] nato = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima", "mike",
            "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"];
        string[] ordinals = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
            "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth"];
        var texts = new List<string>();
        int[] Encode(string s) { texts.Add(s); return [.. s.Select(c => 2 + c % 50)]; }
        var training = DuoGateTraining.Parse("passkeys=20,words=3,min_length=50,max_length=60,lengths=2");
        var data = new DuoTrainingData(Encode, 1, [.. Enumerable.Range(2, 100)], training, contextLength: 8000, vocab: 60, seed: 3);
        var words = new HashSet<string>();
        for (int sample = 0; sample < 4; sample++)
        {
            texts.Clear();
            data.Next();
            var hidden = texts.Select(s => Regex.Match(s, @"^\n\nRemember this sequence of words, it is the (\w+) passkey to the vault: $")).Where(m => m.Success).Select(m => m.Groups[1].Value);
            var asked = texts.Select(s => Regex.Match(s, @"^Based on the content of the book, what is the (\w+) passkey to the vault\?\nPasskey: $")).Where(m => m.Success).Select(m => m.Groups[1].Value);
            Assert.Equal(ordinals, hidden);
            Assert.Equal(ordinals, asked);
            foreach (var s in texts.Where(s => Regex.IsMatch(s, @"^[a-z]+( [a-z]+){2}$"))) words.UnionWith(s.Split(' '));
        }
        Assert.Equal(nato.Order(), words.Order());   // 240 draws: every word of the alphabet, nothing else

        Assert.Equal("duo-gate: passkeys must be 1-20, got 21", Error(() => new DuoTrainingData(Encode, 1, [5], training with { Passkeys = 21 }, 8000, 60, 1)));
        Assert.Equal("duo-gate: passkeys must be 1-20, got 0", Error(() => new DuoTrainingData(Encode, 1, [5], training with { Passkeys = 0 }, 8000, 60, 1)));
        Assert.Equal("duo-gate needs haystack text: the probe documents are empty", Error(() => new DuoTrainingData(Encode, 1, [], training, 8000, 60, 1)));
        var cramped = new DuoTrainingData(Encode, 1, [5], training, contextLength: 300, vocab: 60, seed: 1);
        Assert.Matches(@"^duo-gate: 20 passkeys and their questions take \d+ tokens, more than the model's 300-token context; use fewer passkeys or words$",
            Error(() => cramped.Next()));
    }

    [Fact]
    public void Needle_and_fact_prompts_refuse_what_cannot_be_built()
    {
        var tok = new CharTokenizer(300);
        var docs = ConstructedHeads.Probes(tok, 3, 40);
        Assert.Equal("needle length 3 must exceed the cue 3 (>= 1)", Error(() => NeedlePrompt.Build(docs, 1, 3, 3, 20, 1)));
        Assert.Equal("needle length 3 must exceed the cue 0 (>= 1)", Error(() => NeedlePrompt.Build(docs, 1, 3, 0, 20, 1)));
        Assert.Equal("fact prompts need at least one fact (got 0)", Error(() => NeedlePrompt.BuildFacts(docs, 1, 0, 4, 2, 20, 1)));
        Assert.Equal("fact length 2 must exceed the cue 2 (>= 1)", Error(() => NeedlePrompt.BuildFacts(docs, 1, 2, 2, 2, 20, 1)));
        Assert.Equal("needle prompts need at least 2 probe documents (haystack and needle from different ones)", Error(() => NeedlePrompt.Build(docs.Take(1).ToList(), 1, 4, 2, 20, 1)));
        Assert.Equal("probe documents of 40 tokens are too short for a 40-token haystack and a 4-token needle", Error(() => NeedlePrompt.Build(docs, 1, 4, 2, 40, 1)));
        Assert.Equal("probe documents of 40 tokens are too short for a 20-token haystack and a 40-token needle", Error(() => NeedlePrompt.Build(docs, 1, 40, 2, 20, 1)));
        Assert.Single(NeedlePrompt.Build(docs, 1, 39, 2, 39, 1));   // both at their longest
        Assert.Matches(@"^named-fact prompts take 1 to \d+ facts \(got 0\)$", Error(() => NeedlePrompt.BuildNamedFacts(docs, tok, 1, 0, 64, 1)));
        var many = int.Parse(Regex.Match(Error(() => NeedlePrompt.BuildNamedFacts(docs, tok, 1, 0, 64, 1)), @"1 to (\d+)").Groups[1].Value);
        Assert.Equal($"named-fact prompts take 1 to {many} facts (got {many + 1})", Error(() => NeedlePrompt.BuildNamedFacts(docs, tok, 1, many + 1, 64, 1)));
    }

    [Fact]
    public void Probe_sets_and_profiles_refuse_documents_they_cannot_use()
    {
        var tok = new CharTokenizer(10);
        Assert.Equal("probe set needs >= 1 document of >= 2 tokens (got 0 x 5)", Error(() => ProbeSet.FromText("abc", tok, 0, 5)));
        Assert.Equal("probe set needs >= 1 document of >= 2 tokens (got 1 x 1)", Error(() => ProbeSet.FromText("abc", tok, 1, 1)));
        Assert.Equal("the probe text has 3 tokens; at least 4 are needed for one 5-token document", Error(() => ProbeSet.FromText("abc", tok, 1, 5)));
        Assert.Equal([[1, .. tok.Encode("abcd", false)]], ProbeSet.FromText("abcd", tok, 3, 5));   // BOS + 4: one document, not 3
        Assert.Equal("no probe documents: give a probe text with enough tokens", Error(() => new ProfileContext(null!, tok, [])));
        Assert.Equal("probe documents must all have the same length (>= 2 tokens); got lengths 3, 4", Error(() => new ProfileContext(null!, tok, [[1, 2, 3], [1, 2, 3, 4]])));
        Assert.Equal("probe documents must all have the same length (>= 2 tokens); got lengths 1", Error(() => new ProfileContext(null!, tok, [[1], [2]])));
    }

    [Fact]
    public void An_encoders_future_is_every_other_query_and_a_decoders_the_later_ones()
    {
        using var encoder = PatternStats.FutureMask(3, causal: false);
        using var decoder = PatternStats.FutureMask(3, causal: true);
        Assert.Equal([0f, 1, 1, 1, 0, 1, 1, 1, 0], encoder.data<float>().ToArray());
        Assert.Equal([0f, 0, 0, 1, 0, 0, 1, 1, 0], decoder.data<float>().ToArray());
    }
}
