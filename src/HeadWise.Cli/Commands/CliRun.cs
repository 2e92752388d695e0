using HeadWise;

namespace HeadWise.Cli.Commands;

/// <summary>Runs a command body: user errors become one line on stderr and exit code 1; nothing prints a stack trace.</summary>
internal static class CliRun
{
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (HeadWiseException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: internal error ({e.GetType().Name}): {e.Message}");
            return 2;
        }
    }
}
