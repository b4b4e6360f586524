using System.Text.RegularExpressions;
using EmitHub.Tests.Infrastructure;

namespace EmitHub.Tests.Deploy;

/// <summary>
/// What can be checked of the packaging without a container engine: the systemd unit with
/// <c>systemd-analyze verify</c>, <c>make install DESTDIR=…</c>'s layout, the Dockerfile's publish command against
/// the one <c>make publish</c> runs (CI runs that command, so the image's build step is exercised there), and the
/// compose file against the seed's.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PackagingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emithub-install-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "EmitHub.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new DirectoryNotFoundException("EmitHub.sln not found above " + AppContext.BaseDirectory);
        }
    }

    [Fact]
    public async Task Make_install_with_destdir_lays_out_the_binary_the_unit_and_the_configuration()
    {
        var binary = StubBinary();
        var destdir = Path.Combine(_dir, "root");

        var (exit, output) = await RunAsync("make", Root, "-s", "install", $"DESTDIR={destdir}", $"BINARY={binary}", "PREFIX=/opt/emit-hub");

        Assert.True(exit == 0, output);
        var installed = Path.Combine(destdir, "opt/emit-hub/bin/emit-hub");
        Assert.Equal(File.ReadAllText(binary), File.ReadAllText(installed));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
            | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(installed));
        var unit = File.ReadAllText(Path.Combine(destdir, "opt/emit-hub/lib/systemd/system/emit-hub.service"));
        Assert.Contains("\nExecStart=/opt/emit-hub/bin/emit-hub --config /etc/emit-hub/emit_hub.toml\n", unit);
        var config = Path.Combine(destdir, "etc/emit-hub/emit_hub.toml");
        Assert.Equal(File.ReadAllText(Path.Combine(Root, "emit_hub.toml")), File.ReadAllText(config));

        // A second install (an upgrade) keeps the operator's configuration.
        File.AppendAllText(config, "# edited by the operator\n");
        (exit, output) = await RunAsync("make", Root, "-s", "install", $"DESTDIR={destdir}", $"BINARY={binary}", "PREFIX=/opt/emit-hub");
        Assert.True(exit == 0, output);
        Assert.EndsWith("# edited by the operator\n", File.ReadAllText(config));
        Assert.Equal(["etc/emit-hub/emit_hub.toml", "opt/emit-hub/bin/emit-hub", "opt/emit-hub/lib/systemd/system/emit-hub.service"],
            Directory.GetFiles(destdir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(destdir, f)).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task The_installed_systemd_unit_passes_systemd_analyze_verify_and_is_hardened()
    {
        const string analyze = "/usr/bin/systemd-analyze";
        Assert.True(File.Exists(analyze), $"{analyze} is missing: run 'make test-deps' (installs Debian's systemd).");
        var destdir = Path.Combine(_dir, "root");
        var (exit, output) = await RunAsync("make", Root, "-s", "install", $"DESTDIR={destdir}", $"BINARY={StubBinary()}");
        Assert.True(exit == 0, output);
        var unit = File.ReadAllText(Path.Combine(destdir, "usr/local/lib/systemd/system/emit-hub.service"));

        foreach (var directive in (string[])["Type=notify", "DynamicUser=yes", "StateDirectory=emit-hub", "ProtectSystem=strict",
            "Restart=on-failure", "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
            "Environment=EMIT_HUB_DB_PATH=/var/lib/emit-hub", "ExecStart=/usr/local/bin/emit-hub --config /etc/emit-hub/emit_hub.toml"])
        {
            Assert.Contains("\n" + directive + "\n", unit);
        }

        // verify checks that ExecStart's program exists: point it at the DESTDIR copy. The name must stay emit-hub.service.
        var check = Path.Combine(_dir, "verify", "emit-hub.service");
        Directory.CreateDirectory(Path.GetDirectoryName(check)!);
        File.WriteAllText(check, unit.Replace("/usr/local/bin/emit-hub", Path.Combine(destdir, "usr/local/bin/emit-hub"), StringComparison.Ordinal));
        (exit, output) = await RunAsync(analyze, _dir, "verify", check);

        // verify exits 0 even when it ignores a misspelled directive, so its output must be empty as well.
        Assert.True(exit == 0 && output.Trim().Length == 0, $"systemd-analyze verify exited {exit}:\n{output}");
    }

    [Fact]
    public void The_dockerfile_publishes_with_the_command_make_publish_runs_and_builds_a_small_non_root_image()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        var makefile = File.ReadAllText(Path.Combine(Root, "Makefile"));

        var publishRecipe = Regex.Match(makefile, @"\npublish:\n\t(?<cmd>[^\n]+)\n").Groups["cmd"].Value;
        Assert.Equal("bash tools/publish.sh $(RID)", publishRecipe);
        Assert.Matches(@"\nRID \?= linux-x64\n", makefile);
        var publishRuns = Regex.Matches(dockerfile, @"^RUN (?<cmd>.*tools/publish\.sh.*)$", RegexOptions.Multiline);
        Assert.Equal("bash tools/publish.sh linux-x64", Assert.Single(publishRuns).Groups["cmd"].Value);

        var stages = Regex.Matches(dockerfile, @"^FROM (?<image>\S+)", RegexOptions.Multiline).Select(m => m.Groups["image"].Value).ToArray();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/runtime-deps:10.0"], stages);
        Assert.Contains("\nCOPY --from=build /src/dist/emit-hub /usr/local/bin/emit-hub\n", dockerfile);
        Assert.Contains("\nEXPOSE 8080\n", dockerfile);
        Assert.Contains("\nUSER $APP_UID\n", dockerfile);
        Assert.Contains("\nVOLUME [\"/app/data\"]\n", dockerfile);
        Assert.Contains("ENV EMIT_HUB_HOST=0.0.0.0", dockerfile);
        Assert.Contains("EMIT_HUB_DB_PATH=/app/data", dockerfile);
        Assert.Matches(@"\nHEALTHCHECK [^\n]*\\\n\s+CMD curl -fsS http://localhost:8080/api/v1/health", dockerfile);
        // The build context must not carry local build outputs into the image.
        var ignore = File.ReadAllLines(Path.Combine(Root, ".dockerignore"));
        Assert.Contains("**/bin", ignore);
        Assert.Contains("**/obj", ignore);
        Assert.Contains("dist", ignore);
    }

    // The seed's docker-compose.yml ("Deploy" section of emit-hub.es.md), copied verbatim.
    private const string SeedCompose = """
        version: '3.8'

        services:
          emit-hub:
            build: .
            ports:
              - "8080:8080"
            environment:
              - EMIT_HUB_HOST=0.0.0.0
              - EMIT_HUB_PORT=8080
              - EMIT_HUB_LOG_LEVEL=info
              - EMIT_HUB_MAX_CONNECTIONS=5000
              - EMIT_HUB_PERSIST_MESSAGES=true
            volumes:
              - ./data:/app/data
            restart: unless-stopped
            healthcheck:
              test: ["CMD", "curl", "-f", "http://localhost:8080/api/v1/health"]
              interval: 30s
              timeout: 10s
              retries: 3
        """;

    [Fact]
    public void The_compose_file_is_the_seed_s_and_every_variable_in_it_is_one_the_hub_reads()
    {
        var compose = File.ReadAllLines(Path.Combine(Root, "docker-compose.yml")).SkipWhile(l => l.StartsWith('#'));

        Assert.Equal(SeedCompose.Split('\n'), compose);
        foreach (Match variable in Regex.Matches(SeedCompose, @"- (?<name>EMIT_HUB_[A-Z_]+)="))
        {
            Assert.NotNull(EmitHub.Cli.Configuration.ConfigKeys.ByEnv(variable.Groups["name"].Value));
        }
        // The volume the compose file mounts is where the image keeps its store.
        Assert.Contains("EMIT_HUB_DB_PATH=/app/data", File.ReadAllText(Path.Combine(Root, "Dockerfile")));
    }

    private string StubBinary()
    {
        var path = Path.Combine(_dir, "emit-hub-stub");
        File.WriteAllText(path, "#!/bin/sh\necho stub\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string workingDirectory, params string[] args)
    {
        var (exit, stdout, stderr) = await ProcessRun.RunAsync(file, args, TimeSpan.FromSeconds(120),
            configure: psi => psi.WorkingDirectory = workingDirectory);
        return (exit, stdout + stderr);
    }
}
