using System.Text.Json.Nodes;

namespace HeadWise.Analysis;

/// <summary>
/// How DuoAttention trains its gates. The defaults are the paper's (the configuration of its released patterns):
/// 2,000 steps of one sample, AdamW at learning rate 0.02 (warm-up over the first fifth of the steps and decay over the
/// last fifth, floor 10 %), L1 weight 0.05 on the gates, gates starting at 1, 10 passkeys of 32 words, haystacks of
/// 1,000 to 32,000 tokens on 50 lengths, needle depths 5-95 % on a 1,000-step grid, and streaming attention of
/// 64 sinks + 256 recent tokens. The haystack lengths and the passkey words are for a 32,000-token model: unless set,
/// they scale with the model's context (a 2,048-token model: 64-2,048 tokens, 2 words per passkey).
/// </summary>
public sealed record DuoGateTraining
{
    /// <summary>The context of the model the paper's lengths are for (Llama-2-7B-32K).</summary>
    public const int PaperContext = 32_000;

    public int Steps { get; init; } = 2000;
    public double LearningRate { get; init; } = 0.02;
    public double L1 { get; init; } = 0.05;
    public double InitialGate { get; init; } = 1.0;
    public int Sinks { get; init; } = DuoPattern.PaperSinks;
    public int Recent { get; init; } = DuoPattern.PaperRecent;
    public int Passkeys { get; init; } = 10;
    /// <summary>Words per passkey (null: 32 at 32,000 tokens, scaled to the context).</summary>
    public int? PasskeyWords { get; init; }
    /// <summary>Shortest and longest haystack (null: 1,000 and 32,000 at 32,000 tokens, scaled to the context).</summary>
    public int? MinLength { get; init; }
    public int? MaxLength { get; init; }
    public int LengthIntervals { get; init; } = 50;
    public int DepthIntervals { get; init; } = 1000;
    public double MinDepth { get; init; } = 0.05;
    public double MaxDepth { get; init; } = 0.95;

    public (int Min, int Max) Lengths(int context) =>
        (MinLength ?? Math.Max(1, (int)Math.Round(1000.0 * context / PaperContext)), MaxLength ?? context);

    public int WordsPerPasskey(int context) => PasskeyWords ?? Math.Max(1, (int)Math.Round(32.0 * context / PaperContext));

    /// <summary>AdamW's learning rate at <paramref name="step"/>: DuoAttention's warm-up and decay, each over a fifth of the steps.</summary>
    public double LearningRateAt(int step)
    {
        double fifth = Math.Max(1, Steps / 5);
        return LearningRate * Math.Min(1, Math.Min(Math.Max((step + 1) / fifth, 0.1), Math.Max((Steps - step) / fifth, 0.1)));
    }

    public JsonObject ToJson(int context)
    {
        var (min, max) = Lengths(context);
        return new JsonObject
        {
            ["steps"] = Steps, ["batch"] = 1, ["lr"] = LearningRate, ["l1"] = L1, ["initial_gate"] = InitialGate,
            ["sinks"] = Sinks, ["recent"] = Recent, ["passkeys"] = Passkeys, ["passkey_words"] = WordsPerPasskey(context),
            ["min_length"] = min, ["max_length"] = max, ["length_intervals"] = LengthIntervals,
            ["depth_intervals"] = DepthIntervals, ["min_depth"] = MinDepth, ["max_depth"] = MaxDepth,
            ["scaled_from_context"] = PaperContext, ["model_context"] = context,
        };
    }

    /// <summary>The names <see cref="Parse"/> takes, each with what it sets.</summary>
    public static readonly IReadOnlyDictionary<string, string> Keys = new Dictionary<string, string>
    {
        ["steps"] = "optimisation steps (2000)", ["lr"] = "peak learning rate (0.02)", ["l1"] = "L1 weight on the gates (0.05)",
        ["sinks"] = "streaming sinks, trained and deployed (64)", ["recent"] = "streaming recent window, trained and deployed (256)",
        ["passkeys"] = "passkeys per sample (10)", ["words"] = "words per passkey (32 at 32K context, scaled)",
        ["min_length"] = "shortest haystack (1000 at 32K, scaled)", ["max_length"] = "longest haystack (the context)",
        ["lengths"] = "haystack lengths on the grid (50)",
    };

    /// <summary>"key=value,..." over the defaults (for `profile --score-params duo-gate:...`).</summary>
    public static DuoGateTraining Parse(string? text)
    {
        var t = new DuoGateTraining();
        foreach (var (key, value) in ScoreParameters.Read("duo-gate", text, Keys))
        {
            t = key switch
            {
                "lr" => t with { LearningRate = ScoreParameters.NonNegative("duo-gate", key, value) },
                "l1" => t with { L1 = ScoreParameters.NonNegative("duo-gate", key, value) },
                _ => WithInteger(t, key, ScoreParameters.Integer("duo-gate", key, value, key == "sinks" ? 0 : 1)),
            };
        }
        return t;
    }

    private static DuoGateTraining WithInteger(DuoGateTraining t, string key, int x) => key switch
    {
        "steps" => t with { Steps = x }, "sinks" => t with { Sinks = x }, "recent" => t with { Recent = x },
        "passkeys" => t with { Passkeys = x }, "words" => t with { PasskeyWords = x },
        "min_length" => t with { MinLength = x }, "max_length" => t with { MaxLength = x },
        _ => t with { LengthIntervals = x },
    };
}
