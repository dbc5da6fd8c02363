#!/usr/bin/env python3
"""An MCP client nobody here wrote: the official Python SDK (`mcp` from PyPI) drives
`countersign mcp` over stdio, lists the tools and submits one proposal.

Usage: mcp_sdk_check.py /path/to/countersign URL
Prints one JSON object: {"tools": [...], "proposal": {...}}. The environment must carry
COUNTERSIGN_AGENT_KEY and COUNTERSIGN_CONNECTOR_ADDR.
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(binary, url):
    params = StdioServerParameters(command=binary, args=["mcp"], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool(
                "propose_http_request",
                {
                    "summary": "Check the balance for the Python client",
                    "purpose": "interoperability check",
                    "credential": "bank",
                    "method": "GET",
                    "url": url,
                },
            )
            # The SDK's attribute name changed between versions (structuredContent in 1.x).
            proposal = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
            if proposal is None:
                proposal = json.loads(result.content[0].text)
            print(json.dumps({"tools": sorted(t.name for t in tools.tools), "proposal": proposal}))


asyncio.run(main(sys.argv[1], sys.argv[2]))
